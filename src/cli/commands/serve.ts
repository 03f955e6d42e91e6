/**
 * `keytap serve`: runs the agent (DESIGN.md §8). When ready it prints, on stderr, the WebSocket
 * URL, the unix socket and the token file path (never a token), then the line `keytap ready`
 * that scripts and tests wait for. Logs (pino JSON) go to stdout for journald.
 */
import type { Argv, CommandModule } from 'yargs';
import { KeytapError } from '../../protocol/errors.ts';
import type { RawConfig } from '../../agent/config.ts';

export interface ServeArgs {
  listen?: string[];
  socket?: string;
  tokenFile?: string;
  allowOrigin?: string[];
  simulate?: string[];
  config?: string;
  hid?: boolean;
  traceDir?: string;
  serial?: string[];
  pcsc?: boolean;
  logLevel?: string;
}

/** Turns parsed flags into the config layer (only what was given, so file and env still apply). */
export function flagsFromArgs(a: ServeArgs): RawConfig {
  const f: RawConfig = {};
  if (a.listen?.length) f.listen = a.listen.map(String);
  if (a.socket !== undefined) f.socket = a.socket === 'none' ? false : a.socket;
  if (a.tokenFile !== undefined) f.tokenFile = a.tokenFile;
  if (a.allowOrigin?.length) f.allowOrigins = a.allowOrigin.map(String);
  // `--simulate` without a value parses as []: one key with the default profile.
  if (a.simulate !== undefined) f.simulate = a.simulate.length ? a.simulate.map((s) => String(s ?? '')) : [''];
  if (a.hid !== undefined) f.hid = a.hid;
  if (a.traceDir !== undefined) f.traceDir = a.traceDir;
  if (a.serial?.length || a.pcsc !== undefined) f.readers = { ...(a.serial?.length ? { serial: a.serial.map(String) } : {}), ...(a.pcsc !== undefined ? { pcsc: a.pcsc } : {}) };
  if (a.logLevel !== undefined) f.logLevel = a.logLevel;
  return f;
}

const command: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the keytap agent (WebSocket on loopback + unix socket) that MFA clients connect to',
  builder: (y) =>
    (y as Argv<object>)
      .option('listen', { type: 'string', array: true, describe: 'loopback address HOST:PORT, [::1]:PORT or a bare PORT (both loopbacks); repeatable (default 7391 on 127.0.0.1 and ::1)' })
      .option('socket', { type: 'string', describe: 'unix socket path, or "none" (default $XDG_RUNTIME_DIR/keytap/keytap.sock, else /tmp/keytap-<uid>/keytap.sock)' })
      .option('token-file', { type: 'string', describe: 'token file, created 0600 if missing (default beside the socket: tokens.json)' })
      .option('allow-origin', { type: 'string', array: true, describe: 'browser origin allowed to connect (exact, e.g. https://portal.example); repeatable' })
      .option('simulate', { type: 'string', array: true, describe: 'add a virtual authenticator with PROFILE (default yubikey-5-nfc-5.7); repeatable' })
      .option('config', { type: 'string', describe: 'JSON config file (also KEYTAP_CONFIG); flags override it' })
      .option('hid', { type: 'boolean', describe: 'watch USB security keys via node-hid (default true)' })
      .option('serial', { type: 'string', array: true, describe: 'serial badge reader PATH:PROTOCOL[:BAUD] (protocols em4100, pn532; parsed from the right); repeatable' })
      .option('pcsc', { type: 'boolean', describe: 'watch PC/SC readers through pcscd (default true)' })
      .option('trace-dir', { type: 'string', describe: 'write a masked traffic trace of every key transaction into DIR (off by default; no PIN or token is ever written)' })
      .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent (default info)' })
      .example('$0 serve --simulate', 'start with one simulated key and print how to connect') as Argv<ServeArgs>,
  handler: async (args) => {
    const err = (l: string): void => void process.stderr.write(`${l}\n`);
    const { runAgent } = await import('../../main.ts');
    let running: Awaited<ReturnType<typeof runAgent>>;
    try {
      running = await runAgent({ flags: flagsFromArgs(args), ...(args.config ? { configFile: args.config } : {}) });
    } catch (e) {
      if (e instanceof KeytapError || (e as NodeJS.ErrnoException).code === 'EADDRINUSE' || (e as NodeJS.ErrnoException).code === 'EACCES') {
        err(`keytap serve: ${(e as Error).message}`);
        process.exit(78); // EX_CONFIG
      }
      throw e;
    }
    const { agent, config } = running;
    const tcp = agent.addresses?.tcp ?? [];
    const urls = tcp.map((a) => `ws://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/`);
    err('keytap agent listening (subprotocol keytap.v1)');
    for (const u of urls) err(`  websocket:  ${u}`);
    if (agent.addresses?.socket) err(`  socket:     ${agent.addresses.socket}`);
    err(`  token file: ${config.tokenFile}${running.tokenFileCreated ? ' (created)' : ''}`);
    for (const d of agent.devices.list()) err(`  device:     ${d.id}  ${d.name}`);
    if (config.allowOrigins.length) err(`  origins:    ${config.allowOrigins.join(' ')}`);
    err(`  try:        keytap devices   (talks to this agent through ${agent.addresses?.socket ? 'the socket' : 'the WebSocket'})`);
    err('keytap ready');
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void running.close().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  },
};

export default command;
