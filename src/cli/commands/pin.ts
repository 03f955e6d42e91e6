/**
 * `keytap pin status|set|change|verify`: a technician's PIN tools. PINs come from the hidden
 * prompt, `--pin-stdin`, or KEYTAP_PIN / KEYTAP_NEW_PIN; never printed. See
 * docs/pin-management.md for states, errors and exit codes.
 */
import type { Argv, CommandModule } from 'yargs';
import { describeStatus, openBackend, progressPrinter, runFido, succeed, withCommonOptions, type FidoCommonArgs } from '../fido-cli.ts';
import { createPinPrompter } from '../prompt.ts';
import type { PinStatus } from '../../fido/pin-status.ts';

interface PinArgs extends FidoCommonArgs {
  pinStdin?: boolean;
  pin?: string;
  newPin?: string;
  confirmLastAttempt?: boolean;
}

function pinOptions<T>(y: Argv<T>, withNew: boolean, withCurrent: boolean): Argv<T & PinArgs> {
  let a = withCommonOptions(y).option('pin-stdin', { type: 'boolean', default: false, describe: 'read PINs from stdin, one per line (current PIN first, then the new PIN)' });
  if (withCurrent) {
    a = a
      .option('pin', { type: 'string', describe: 'the current PIN (visible in the process list: prefer the prompt, --pin-stdin or KEYTAP_PIN)' })
      .option('confirm-last-attempt', { type: 'boolean', default: false, describe: 'allow using the last PIN attempt (a wrong PIN then blocks the key)' });
  }
  if (withNew) a = a.option('new-pin', { type: 'string', describe: 'the new PIN (visible in the process list: prefer the prompt, --pin-stdin or KEYTAP_NEW_PIN)' });
  return a as Argv<T & PinArgs>;
}

const result = (json: boolean | undefined, headline: string, s: PinStatus) => succeed(json, { pinStatus: s }, [headline, ...describeStatus(s)]);
const prompter = (a: PinArgs) =>
  createPinPrompter({
    ...(a.pin !== undefined ? { pinArg: String(a.pin) } : {}),
    ...(a.newPin !== undefined ? { newPinArg: String(a.newPin) } : {}),
    pinStdin: a.pinStdin === true,
  });

const status: CommandModule<object, FidoCommonArgs> = {
  command: 'status',
  describe: 'show the PIN state: set or not, attempts left, blocked, what to do next',
  builder: (y) => withCommonOptions(y as Argv<object>),
  handler: (a) =>
    runFido(a.json, async () => {
      const s = await openBackend().pinStatus(a.device);
      return succeed(a.json, { pinStatus: s }, describeStatus(s));
    }),
};

const set: CommandModule<object, PinArgs> = {
  command: 'set',
  describe: 'set the first PIN on a key that has none (asked twice)',
  builder: (y) => pinOptions(y as Argv<object>, true, false).example('printf "%s\\n" "$NEW" | $0 pin set --pin-stdin', 'automation'),
  handler: (a) =>
    runFido(a.json, async () => {
      const p = prompter(a);
      try {
        const next = await p.newPin();
        return result(a.json, 'PIN set and verified.', await openBackend().setPin(a.device, next));
      } finally {
        p.close();
      }
    }),
};

const change: CommandModule<object, PinArgs> = {
  command: 'change',
  describe: 'change the PIN (current PIN, then the new one twice)',
  builder: (y) => pinOptions(y as Argv<object>, true, true).example('printf "%s\\n%s\\n" "$OLD" "$NEW" | $0 pin change --pin-stdin', 'automation'),
  handler: (a) =>
    runFido(a.json, async () => {
      const p = prompter(a);
      try {
        const current = await p.currentPin();
        const next = await p.newPin();
        const s = await openBackend().changePin(a.device, current, next, { confirmLastAttempt: a.confirmLastAttempt === true, onProgress: progressPrinter() });
        return result(a.json, 'PIN changed and verified.', s);
      } finally {
        p.close();
      }
    }),
};

const verify: CommandModule<object, PinArgs> = {
  command: 'verify',
  describe: 'check a PIN (a wrong one costs an attempt; a right one restores all attempts)',
  builder: (y) => pinOptions(y as Argv<object>, false, true),
  handler: (a) =>
    runFido(a.json, async () => {
      const p = prompter(a);
      try {
        const pin = await p.currentPin();
        return result(a.json, 'PIN is correct.', await openBackend().verifyPin(a.device, pin, { confirmLastAttempt: a.confirmLastAttempt === true }));
      } finally {
        p.close();
      }
    }),
};

const command: CommandModule<object, object> = {
  command: 'pin <command>',
  describe: 'PIN of a FIDO security key: status, set, change, verify',
  builder: (y) => y.command(status).command(set).command(change).command(verify).demandCommand(1),
  handler: () => {},
};

export default command;
