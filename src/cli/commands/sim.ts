/**
 * `keytap sim ...`: the simulator control plane from the command line, over a running agent
 * (`keytap serve --simulate`) with the admin role. Every subcommand is one `sim.*` call
 * (docs/protocol.md); the result prints as JSON.
 *
 *   keytap sim devices
 *   keytap sim plug | unplug | power-cycle           [--device ID]
 *   keytap sim touch approve|deny|ignore [--always]   [--device ID]
 *   keytap sim pin-state [--no-pin] [--retries N] [--force-change] [--min-length N] [--device ID]   (PIN from stdin)
 *   keytap sim fault disconnect|corrupt|busy|stall|slow|clear [--at-message N] [--phase before|after]
 *                    [--target cmd|seq] [--ms N] [--keepalives stop|forever] [--delay-ms N] [--device ID]
 *
 * The agent is found like the other CLI commands do (`KEYTAP_URL` + `KEYTAP_TOKEN_FILE`, else
 * the unix socket); `--url` / `--token-file` override.
 */
import type { Argv, CommandModule } from 'yargs';
import { KeytapClient } from '../../client/keytap-client.ts';
import { agentEndpoint } from '../agent-backend.ts';
import { KeytapError } from '../../protocol/errors.ts';

interface SimArgs {
  action: string;
  arg?: string;
  /** card present: UID[:ATR] */
  value?: string;
  device?: string;
  url?: string;
  tokenFile?: string;
  always?: boolean;
  pin?: boolean;
  retries?: number;
  forceChange?: boolean;
  minLength?: number;
  atMessage?: number;
  phase?: string;
  target?: string;
  ms?: number;
  keepalives?: string;
  delayMs?: number;
}

const ACTIONS = ['devices', 'plug', 'unplug', 'power-cycle', 'touch', 'pin-state', 'fault', 'card'] as const;

async function readPinLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let buf = '';
  for await (const chunk of stdin) {
    buf += chunk.toString();
    if (buf.includes('\n')) break;
  }
  const line = buf.split('\n')[0]!.replace(/\r$/, '');
  if (!line) throw new KeytapError('CLI_USAGE', 'pin-state reads the PIN from the first line of stdin (or pass --no-pin)');
  return line;
}

/** Maps parsed arguments to one `sim.*` call. Exported for tests. */
export async function simCall(a: SimArgs, stdin: NodeJS.ReadableStream = process.stdin): Promise<{ method: string; params: Record<string, unknown> }> {
  const dev = a.device !== undefined ? { device: a.device } : {};
  switch (a.action) {
    case 'devices':
      return { method: 'sim.devices', params: {} };
    case 'plug':
      return { method: 'sim.plug', params: dev };
    case 'unplug':
      return { method: 'sim.unplug', params: dev };
    case 'power-cycle':
      return { method: 'sim.powerCycle', params: dev };
    case 'touch':
      if (!['approve', 'deny', 'ignore'].includes(a.arg ?? '')) throw new KeytapError('CLI_USAGE', 'keytap sim touch approve|deny|ignore [--always]');
      return { method: 'sim.touch', params: { ...dev, mode: a.arg, once: a.always !== true } };
    case 'pin-state': {
      const pin = a.pin === false ? null : await readPinLine(stdin);
      return {
        method: 'sim.pin.setState',
        params: {
          ...dev,
          pin,
          ...(a.retries !== undefined ? { retries: a.retries } : {}),
          ...(a.forceChange ? { forcePinChange: true } : {}),
          ...(a.minLength !== undefined ? { minPinLength: a.minLength } : {}),
        },
      };
    }
    case 'fault': {
      const kinds = ['disconnect', 'corrupt', 'busy', 'stall', 'slow', 'clear'];
      if (!kinds.includes(a.arg ?? '')) throw new KeytapError('CLI_USAGE', `keytap sim fault ${kinds.join('|')} [options]`);
      const opt: Record<string, unknown> = {};
      for (const k of ['atMessage', 'phase', 'target', 'ms', 'keepalives', 'delayMs'] as const) if (a[k] !== undefined) opt[k] = a[k];
      return { method: 'sim.fault', params: { ...dev, kind: a.arg, ...opt } };
    }
    case 'card': {
      // The virtual badge reader (H5): keytap sim card present UID[:ATR] | keytap sim card remove.
      if (a.arg === 'present' && a.value) {
        const [uid, atr] = String(a.value).split(':', 2);
        return { method: 'sim.card.present', params: { uid, ...(atr ? { atr } : {}) } };
      }
      if (a.arg === 'remove') return { method: 'sim.card.remove', params: {} };
      throw new KeytapError('CLI_USAGE', 'keytap sim card present UID[:ATR] | keytap sim card remove');
    }
    default:
      throw new KeytapError('CLI_USAGE', `unknown action ${a.action}`);
  }
}

const command: CommandModule<object, SimArgs> = {
  command: 'sim <action> [arg] [value]',
  describe: 'control the simulated keys of a running `keytap serve --simulate` (admin): plug, touch, PIN state, faults',
  builder: (y) =>
    (y as Argv<any>)
      .positional('action', { choices: ACTIONS, describe: 'what to do' })
      .positional('arg', { type: 'string', describe: 'touch: approve|deny|ignore; fault: disconnect|corrupt|busy|stall|slow|clear; card: present|remove' })
      .positional('value', { type: 'string', describe: 'card present: UID[:ATR] in hex (default ATR MIFARE Classic 1K)' })
      .option('device', { type: 'string', describe: 'agent device id, simulator key or index (default: the only simulated key)' })
      .option('url', { type: 'string', describe: 'agent WebSocket URL (default: KEYTAP_URL, else the unix socket)' })
      .option('token-file', { type: 'string', describe: 'token file for --url (the admin token is used)' })
      .option('always', { type: 'boolean', describe: 'touch: make it the default answer instead of only the next one' })
      .option('pin', { type: 'boolean', default: true, describe: 'pin-state: --no-pin resets the key to "no PIN set"' })
      .option('retries', { type: 'number', describe: 'pin-state: attempts left (0-8; default 8)' })
      .option('force-change', { type: 'boolean', describe: 'pin-state: the key demands a PIN change (authenticatorConfig forceChangePin)' })
      .option('min-length', { type: 'number', describe: 'pin-state: minimum PIN length the key enforces (4-63, authenticatorConfig)' })
      .option('at-message', { type: 'number', describe: 'fault disconnect: the Nth host message after arming (default 1)' })
      .option('phase', { choices: ['before', 'after'], describe: 'fault disconnect: before or after the key processed it' })
      .option('target', { choices: ['cmd', 'seq'], describe: 'fault corrupt: what to break in the next reply' })
      .option('ms', { type: 'number', describe: 'fault busy: how long CHANNEL_BUSY lasts' })
      .option('keepalives', { choices: ['stop', 'forever'], describe: 'fault stall: one keepalive then silence, or keepalives forever' })
      .option('delay-ms', { type: 'number', describe: 'fault slow: delay of every report' }) as unknown as Argv<SimArgs>,
  handler: async (args) => {
    let client: KeytapClient | null = null;
    try {
      const call = await simCall(args);
      const ep = args.url ? { url: args.url, tokenFile: args.tokenFile ?? (agentEndpoint() as { tokenFile?: string }).tokenFile! } : agentEndpoint();
      client = await KeytapClient.connect({ ...ep, ...('tokenFile' in ep && ep.tokenFile ? { role: 'admin' as const } : {}), clientInfo: { name: 'keytap-cli-sim' } });
      const result = await client.request(call.method, call.params);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      client.close();
      process.exit(0);
    } catch (e) {
      client?.close();
      const err = e as KeytapError;
      process.stderr.write(`keytap sim: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
      process.exit(err.code === 'CLI_USAGE' ? 64 : 1);
    }
  },
};

export default command;
