/**
 * `keytap simulate`: runs a virtual authenticator and exposes it.
 *
 * Contract (HIL scripts depend on it; docs/simulator.md):
 *   keytap simulate --udp 127.0.0.1:8111 [--profile NAME] [--pin PIN | --pin-stdin] [--touch auto|deny|none]
 *   - prints `listening udp HOST:PORT` on stdout once ready (port 0 → the real port);
 *   - answers each 64-byte datagram to its sender; SIGUSR1 power-cycles the key;
 *     SIGINT/SIGTERM exit 0; a non-loopback host needs --allow-remote.
 *   keytap simulate --list-profiles
 *
 * Modes are entries of `simulateModes` (option builder + startup function each), so other
 * exposures (vpcd, traces) are added without touching the UDP one.
 */
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { VirtualAuthenticator } from '../../sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, TouchController, type TouchPolicy } from '../../sim/env.ts';
import { DEFAULT_PROFILE, listProfiles, loadProfile, UnknownProfileError } from '../../sim/profiles.ts';
import { DEFAULT_UDP_PORT, UdpCtapHidServer } from '../../sim/udp-server.ts';
import { Pin } from '../../protocol/secret.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { vpcdSimulateMode } from '../../sim/vpcd/vpcd-simulation.ts';
import { traceMode } from './simulate-trace.ts';

/** Parsed options of `keytap simulate` (modes add their own members). */
export interface SimulateArgs {
  profile: string;
  pin?: string;
  pinStdin?: boolean;
  touch: TouchPolicy;
  touchDelay?: number;
  state?: string;
  listProfiles?: boolean;
  allowRemote?: boolean;
  udp?: string;
  [k: string]: unknown;
}

/** What every mode gets: the one virtual key and the ways to report. */
export interface SimulateContext {
  authenticator: VirtualAuthenticator;
  touch: TouchController;
  /** The machine-readable ready lines (`listening udp HOST:PORT`). */
  stdout: (line: string) => void;
  /** Human messages. */
  stderr: (line: string) => void;
}

/** A running exposure of the virtual key. */
export interface RunningMode {
  /** Called on SIGUSR1 after the authenticator itself was power-cycled (e.g. drop CTAPHID channels). */
  powerCycle?(): void;
  close(): Promise<void>;
}

/** One way to expose the key (UDP here; vpcd and others register the same way). */
export interface SimulateMode {
  name: string;
  /** Adds this mode's options. */
  options(y: Argv<any>): Argv<any>;
  /** Whether the parsed arguments ask for this mode. */
  enabled(args: SimulateArgs): boolean;
  start(args: SimulateArgs, ctx: SimulateContext): Promise<RunningMode>;
}

/** Parses `HOST:PORT` (`[::1]:8111` for IPv6). Throws `KeytapError` CLI_USAGE. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new KeytapError('CLI_USAGE', `expected HOST:PORT, got "${text}"`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KeytapError('CLI_USAGE', `port must be 0…65535, got "${m[2]}"`);
  return { host: m[1]!, port };
}

/** `--udp HOST:PORT`: CTAPHID over UDP datagrams (DESIGN.md §7). */
export const udpMode: SimulateMode = {
  name: 'udp',
  options: (y) =>
    y
      .option('udp', { type: 'string', describe: `expose the key as CTAPHID over UDP on HOST:PORT (port 0 = any free port; customary ${DEFAULT_UDP_PORT})` })
      .option('allow-remote', { type: 'boolean', default: false, describe: 'allow a non-loopback --udp address (anyone on that network can then use the key)' }),
  // With --trace, --udp is where the recorded device is served (simulate-trace.ts), not the virtual key.
  enabled: (a) => typeof a.udp === 'string' && typeof a.trace !== 'string',
  async start(args, ctx) {
    const { host, port } = parseHostPort(args.udp!, DEFAULT_UDP_PORT);
    const server = await UdpCtapHidServer.listen(ctx.authenticator, { host, port, allowRemote: args.allowRemote === true });
    const a = server.address;
    ctx.stdout(`listening udp ${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`);
    return {
      // The authenticator was power-cycled by the caller; USB re-insert also drops channels.
      powerCycle: () => server.device.powerCycle(),
      close: () => server.close(),
    };
  },
};

/** Registered modes, in start order. */
export const simulateModes: SimulateMode[] = [udpMode, vpcdSimulateMode, traceMode];

/** The options shared by every mode. */
export function simulateOptions(y: Argv<any>): Argv<any> {
  let out = y
    .option('profile', { type: 'string', default: DEFAULT_PROFILE, describe: 'device profile name (see --list-profiles) or a profile JSON file' })
    .option('list-profiles', { type: 'boolean', describe: 'print the profile names and exit' })
    .option('pin', { type: 'string', describe: 'initial PIN for a fresh key (visible in the process list: prefer --pin-stdin or KEYTAP_SIM_PIN)' })
    .option('pin-stdin', { type: 'boolean', describe: 'read the initial PIN from the first line of stdin' })
    .option('touch', { choices: ['auto', 'deny', 'none'] as const, default: 'auto' as const, describe: 'how the virtual user answers touch requests' })
    .option('touch-delay', { type: 'number', default: 0, describe: 'with --touch auto: approve after this many ms (clients see UPNEEDED keepalives meanwhile)' })
    .option('state', { type: 'string', describe: 'keep the persistent state (PIN, credentials) in this JSON file' });
  for (const m of simulateModes) out = m.options(out);
  return out;
}

async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  let buf = '';
  for await (const chunk of stream) {
    buf += chunk.toString();
    const nl = buf.indexOf('\n');
    if (nl >= 0) return buf.slice(0, nl).replace(/\r$/, '');
  }
  return buf;
}

/** Where the initial PIN comes from: --pin-stdin, KEYTAP_SIM_PIN, then --pin (with a warning). */
export async function resolveInitialPin(args: SimulateArgs, stderr: (l: string) => void, env = process.env, stdin: NodeJS.ReadableStream = process.stdin): Promise<Pin | undefined> {
  if (args.pinStdin) return Pin.fromString(await readLine(stdin));
  if (env.KEYTAP_SIM_PIN) return Pin.fromString(env.KEYTAP_SIM_PIN);
  if (typeof args.pin === 'string') {
    stderr('keytap simulate: warning: --pin is visible to other local users in the process list; prefer --pin-stdin or KEYTAP_SIM_PIN');
    return Pin.fromString(args.pin);
  }
  return undefined;
}

/**
 * Starts the simulator with `args`; resolves with a stop function once every mode is ready.
 * Exposed for tests; the CLI handler adds signal handling.
 */
export async function startSimulator(
  args: SimulateArgs,
  io: { stdout: (l: string) => void; stderr: (l: string) => void },
): Promise<{ authenticator: VirtualAuthenticator; modes: RunningMode[]; powerCycle(): void; stop(): Promise<void> }> {
  const profile = loadProfile(args.profile);
  const touch = new TouchController(args.touch, Math.max(0, Number(args.touchDelay ?? 0)));
  const env = createSimEnv({ touch, ...(args.state ? { storagePath: args.state } : {}) });
  const initialPin = await resolveInitialPin(args, io.stderr);
  if (initialPin) {
    // Checked here so a typo fails loudly instead of giving a key with an unusable PIN (fido.md §6).
    const min = profile.getInfo.minPINLength ?? 4;
    if (initialPin.codePoints() < min || initialPin.length > 63) {
      initialPin.wipe();
      throw new KeytapError('CLI_USAGE', `the initial PIN must have at least ${min} characters and at most 63 bytes`);
    }
  }
  if (initialPin && args.state && existsSync(args.state)) {
    io.stderr(`keytap simulate: ${args.state} already holds a key; the initial PIN option is ignored`);
  }
  const authenticator = new VirtualAuthenticator({ profile, env, ...(initialPin ? { initialPin } : {}) });
  initialPin?.wipe();
  const ctx: SimulateContext = { authenticator, touch, ...io };
  const enabled = simulateModes.filter((m) => m.enabled(args));
  if (enabled.length === 0) throw new KeytapError('CLI_USAGE', `name a way to expose the key: ${simulateModes.map((m) => `--${m.name}`).join(', ')}`);
  io.stderr(`keytap simulate: profile ${profile.name} (${profile.model}), touch ${args.touch}`);
  const modes: RunningMode[] = [];
  try {
    for (const m of enabled) modes.push(await m.start(args, ctx));
  } catch (e) {
    await Promise.all(modes.map((r) => r.close()));
    throw e;
  }
  return {
    authenticator,
    modes,
    powerCycle() {
      authenticator.powerCycle();
      for (const r of modes) r.powerCycle?.();
    },
    async stop() {
      await Promise.all(modes.map((r) => r.close()));
    },
  };
}

const command: CommandModule<object, SimulateArgs> = {
  command: 'simulate',
  describe: 'run a virtual FIDO2 authenticator (CTAPHID over UDP for HIL scripts and other FIDO clients)',
  builder: (y) => simulateOptions(y) as Argv<SimulateArgs>,
  handler: async (args) => {
    if (args.listProfiles) {
      for (const name of listProfiles()) {
        const p = loadProfile(name);
        process.stdout.write(`${name}\t${p.model}${name === DEFAULT_PROFILE ? ' (default)' : ''}\n`);
      }
      return;
    }
    const stdout = (l: string) => void process.stdout.write(`${l}\n`);
    const stderr = (l: string) => void process.stderr.write(`${l}\n`);
    let sim: Awaited<ReturnType<typeof startSimulator>>;
    try {
      sim = await startSimulator(args, { stdout, stderr });
    } catch (e) {
      if (e instanceof UnknownProfileError || (e instanceof KeytapError && (e.code === 'CLI_USAGE' || e.code.startsWith('SIM_')))) {
        stderr(`keytap simulate: ${e.message}`);
        process.exit(64);
      }
      throw e;
    }
    process.on('SIGUSR1', () => {
      sim.powerCycle();
      stderr('keytap simulate: power cycle');
    });
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void sim.stop().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.exit(0);
  },
};

export default command;
