/**
 * `keytap reset`: erases every credential and the PIN of a key (authenticatorReset). Asks for
 * confirmation unless --yes; guides a USB key through re-insertion (keys accept a reset only in
 * the first seconds after power-up) and asks for the touch.
 */
import type { Argv, CommandModule } from 'yargs';
import { describeStatus, openBackend, progressPrinter, runFido, succeed, withCommonOptions, type FidoCommonArgs } from '../fido-cli.ts';
import { createPinPrompter } from '../prompt.ts';
import { KeytapError } from '../../protocol/errors.ts';

interface ResetArgs extends FidoCommonArgs {
  yes?: boolean;
  guided?: boolean;
}

const command: CommandModule<object, ResetArgs> = {
  command: 'reset',
  describe: 'reset a key: erases EVERY credential on it and its PIN (the only way out of a blocked PIN)',
  builder: (y) =>
    withCommonOptions(y as Argv<object>)
      .option('yes', { type: 'boolean', default: false, describe: 'do not ask for confirmation' })
      .option('guided', { type: 'boolean', default: true, describe: 'ask to re-insert a USB key and reset right after (--no-guided: reset now)' })
      .example('$0 reset', 'confirm, re-insert the key when asked, touch it') as Argv<ResetArgs>,
  handler: (a) =>
    runFido(a.json, async () => {
      if (!a.yes) {
        const p = createPinPrompter();
        const ok = await p.confirm('This erases every credential on the key and its PIN; accounts that use the key must enrol it again. Reset?');
        p.close();
        if (!ok) throw new KeytapError('CONFIRMATION_REQUIRED', 'reset not confirmed: this erases every credential on the key; run on a terminal and answer y, or pass --yes');
      }
      const s = await openBackend().reset(a.device, { guided: a.guided !== false, onProgress: progressPrinter() });
      return succeed(a.json, { pinStatus: s }, ['Reset done: every credential and the PIN were erased.', ...describeStatus(s)]);
    }),
};

export default command;
