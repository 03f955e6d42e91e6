/** `keytap info`: what the key says about itself (authenticatorGetInfo) and its PIN state. */
import type { Argv, CommandModule } from 'yargs';
import { describeStatus, openBackend, runFido, succeed, withCommonOptions, type FidoCommonArgs } from '../fido-cli.ts';

const command: CommandModule<object, FidoCommonArgs> = {
  command: 'info',
  describe: 'show a key\'s versions, options, PIN protocols and PIN state',
  builder: (y) => withCommonOptions(y as Argv<object>).example('$0 info --device udp://127.0.0.1:8111', 'a simulator'),
  handler: (args) =>
    runFido(args.json, async () => {
      const b = openBackend();
      const info = await b.info(args.device);
      const status = await b.pinStatus(args.device);
      const opts = (info.options ?? {}) as Record<string, boolean>;
      const text = [
        `Versions: ${(info.versions as string[]).join(', ')}`,
        `AAGUID: ${String(info.aaguid)}`,
        ...(info.firmwareVersion !== undefined ? [`Firmware: ${String(info.firmwareVersion)}`] : []),
        `Options: ${Object.entries(opts).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`,
        `PIN/UV auth protocols: ${((info.pinUvAuthProtocols as number[] | undefined) ?? [1]).join(', ')}`,
        ...(info.maxMsgSize !== undefined ? [`Max message size: ${String(info.maxMsgSize)} bytes`] : []),
        ...describeStatus(status),
      ];
      return succeed(args.json, { info, pinStatus: status }, text);
    }),
};

export default command;
