/** `keytap devices`: the FIDO security keys plugged in (USB HID, usage page 0xF1D0). */
import type { Argv, CommandModule } from 'yargs';
import { openBackend, runFido, succeed, type FidoCommonArgs } from '../fido-cli.ts';

const hex4 = (n: number | undefined): string => (n ?? 0).toString(16).padStart(4, '0');

const command: CommandModule<object, { json?: boolean }> = {
  command: 'devices',
  describe: 'list the FIDO security keys plugged in',
  builder: (y) =>
    (y as Argv<object>)
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
      .option('verbose', { type: 'boolean', default: false, describe: 'say whether a running agent or direct mode was used' })
      .example('$0 devices', 'one line per key: path, VID:PID, product, serial') as Argv<Pick<FidoCommonArgs, 'json'>>,
  handler: (args) =>
    runFido(args.json, async () => {
      const devices = await openBackend().listDevices();
      const text = devices.length
        ? devices.map((d) => `${d.path}  ${hex4(d.vendorId)}:${hex4(d.productId)}  ${[d.manufacturer, d.product].filter(Boolean).join(' ') || '(unnamed)'}${d.serialNumber ? `  serial ${d.serialNumber}` : ''}`)
        : ['No FIDO security key found. Plug one in; a simulator is reached with --device udp://HOST:PORT.'];
      return succeed(args.json, { devices }, text);
    }),
};

export default command;
