/**
 * The composition root (DESIGN.md §1): the one module that wires concrete drivers (node-hid)
 * and the simulator (`--simulate`) into the agent, which itself knows only the provider
 * interfaces in src/agent/providers.ts. `keytap serve` calls `runAgent`.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { Agent } from './agent/agent.ts';
import { resolveConfig, type AgentConfig, type RawConfig } from './agent/config.ts';
import { createLogger } from './agent/logger.ts';
import { TokenStore } from './agent/token-store.ts';
import type { AuthenticatorDevice, AuthenticatorProvider, ProviderEvent, ReaderProvider } from './agent/providers.ts';
import type { FidoClientFactory } from './agent/fido-ops.ts';
import { FidoClient } from './fido/fido-client.ts';
import type { CoseEc2PublicKey } from './protocol/cose.ts';
import { CtapHidTransport } from './fido/ctap-hid-transport.ts';
import type { HidConnection, HidDeviceInfo } from './drivers/hid-connection.ts';
import { TrafficTrace } from './sim/trace/traffic-trace.ts';

import { VirtualHidDevice } from './sim/virtual-hid.ts';
import { VirtualAuthenticator } from './sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, TouchController, type TouchPolicy } from './sim/env.ts';
import { DEFAULT_PROFILE, loadProfile } from './sim/profiles.ts';
import { FaultInjector } from './sim/faults/fault-injector.ts';
import { createSimControl } from './sim/faults/sim-control.ts';
import { deviceIdFor } from './agent/device-registry.ts';
import { checkReadersConfig, createReaderSources } from './readers/reader-config.ts';
import { agentProvidersFor } from './readers/agent-providers.ts';
import { VirtualReaderSource } from './sim/readers/virtual-reader.ts';
import { simCardMethods } from './sim/readers/sim-card-methods.ts';

/** Decorates a key's connection for one transaction (the traffic trace). */
type ConnectionWrapper = (conn: HidConnection, device: { key: string; name: string }) => HidConnection;

/** The package version, for `initialize`. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** One simulated key: the virtual authenticator, its CTAPHID device and its virtual user. */
export interface SimulatedKey {
  key: string;
  profile: string;
  authenticator: VirtualAuthenticator;
  hid: VirtualHidDevice;
  touch: TouchController;
  /** Faults armed by `sim.fault` apply to every connection the agent opens to this key. */
  faults: FaultInjector;
  device: AuthenticatorDevice;
}

/**
 * Virtual authenticators in-process (`--simulate [PROFILE]`, repeatable). `plug`/`unplug` are
 * the hooks the simulator control plane (`sim.*` methods) uses.
 */
export class SimulatedAuthenticatorProvider implements AuthenticatorProvider {
  readonly name = 'sim';
  readonly keys: SimulatedKey[] = [];
  readonly #listeners = new Set<(e: ProviderEvent<AuthenticatorDevice>) => void>();

  /**
   * @param profiles profile names; `''` or `default` means the default profile.
   * @param options.touch the virtual user's default answer (default `auto`).
   */
  constructor(profiles: string[], options: { touch?: TouchPolicy; wrap?: ConnectionWrapper } = {}) {
    profiles.forEach((name, i) => {
      // `--simulate --simulate solo-1` loses the empty value in yargs, so `default` names the default profile too.
      const profile = loadProfile(name === '' || name === 'default' ? DEFAULT_PROFILE : name);
      const touch = new TouchController(options.touch ?? 'auto');
      const env = createSimEnv({ touch });
      const authenticator = new VirtualAuthenticator({ profile, env });
      const hid = new VirtualHidDevice(authenticator, { info: { path: `virtual://sim/${i}`, serialNumber: `SIM${String(i).padStart(4, '0')}` } });
      const key = `${profile.name}#${i}`;
      const faults = new FaultInjector({ onDisconnect: () => this.unplug(i) });
      const device: AuthenticatorDevice = {
        kind: 'authenticator',
        key,
        name: `${profile.model} (simulated)`,
        transport: 'virtual',
        simulated: true,
        vendorId: hid.info.vendorId,
        productId: hid.info.productId,
        serialNumber: hid.info.serialNumber,
        extra: { profile: profile.name },
        open: (signal) => {
          const conn = faults.wrap(hid.open());
          return CtapHidTransport.open(options.wrap ? options.wrap(conn, { key, name: `${profile.model} (simulated)` }) : conn, { kind: 'virtual', descriptor: hid.info.path, ...(signal ? { signal } : {}) });
        },
      };
      this.keys.push({ key, profile: profile.name, authenticator, hid, touch, faults, device });
    });
  }

  async list(): Promise<AuthenticatorDevice[]> {
    return this.keys.filter((k) => k.hid.plugged).map((k) => k.device);
  }

  watch(listener: (e: ProviderEvent<AuthenticatorDevice>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Unplugs key `index`: open transactions fail with DEVICE_REMOVED, `device.detached` follows. */
  unplug(index: number): void {
    const k = this.keys[index];
    if (!k || !k.hid.plugged) return;
    k.hid.unplug();
    for (const l of this.#listeners) l({ type: 'detached', device: k.device });
  }

  /** Plugs key `index` back in (a power cycle: the soft PIN block clears, the reset window opens). */
  plug(index: number): void {
    const k = this.keys[index];
    if (!k || k.hid.plugged) return;
    k.authenticator.powerCycle();
    k.hid.plug();
    for (const l of this.#listeners) l({ type: 'attached', device: k.device });
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

/** Stable identity of a USB key: VID:PID:serial when the key has a serial, else the path (best effort). */
function hidKey(d: HidDeviceInfo): string {
  const id = `${d.vendorId.toString(16).padStart(4, '0')}:${d.productId.toString(16).padStart(4, '0')}`;
  return d.serialNumber ? `${id}:${d.serialNumber}` : `${id}@${d.path}`;
}

/** USB security keys through node-hid (loaded lazily so machines without libusb can still simulate). */
/**
 * @param options.enumerate HID enumerator (default node-hid's FIDO filter); tests inject one.
 * @param options.devDir the directory whose `hidraw*` entries signal hotplug (default `/dev`).
 * @param options.safetyPollMs the slow re-enumeration besides the watch (default `HID_SAFETY_POLL_MS`).
 */
export async function createHidProvider(
  logger: Logger,
  options: { enumerate?: () => Promise<HidDeviceInfo[]>; devDir?: string; safetyPollMs?: number; wrap?: ConnectionWrapper } = {},
): Promise<AuthenticatorProvider> {
  const { HidDeviceSource } = await import('./drivers/hid/hid-device-source.ts');
  const { NodeHidConnection } = await import('./drivers/hid/node-hid-connection.ts');
  // Hotplug without busy polling: hidraw nodes appear and vanish in /dev, and inotify (fs.watch)
  // tells us at no idle cost; each change triggers a re-enumeration (twice: udev may still be
  // applying permissions the first time). A slow safety poll covers systems where /dev cannot be
  // watched. Enumerating every 500 ms instead cost ~0.5 % CPU idle (bench/agent-footprint.ts).
  const source = new HidDeviceSource({ intervalMs: options.safetyPollMs ?? HID_SAFETY_POLL_MS, ...(options.enumerate ? { enumerate: options.enumerate } : {}), onError: (e) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'HID enumeration failed') });
  let devWatch: FSWatcher | null = null;
  const timers = new Set<NodeJS.Timeout>();
  const rescan = (): void => {
    for (const ms of [150, 1000]) {
      const t = setTimeout(() => {
        timers.delete(t);
        void source.poll();
      }, ms);
      t.unref();
      timers.add(t);
    }
  };
  try {
    devWatch = watch(options.devDir ?? '/dev', { persistent: false }, (_event, name) => {
      if (name === null || String(name).startsWith('hidraw')) rescan();
    });
    devWatch.on('error', (e) => logger.warn({ err: e.message }, 'cannot watch /dev for hidraw hotplug; relying on the slow poll'));
  } catch (e) {
    logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'cannot watch /dev for hidraw hotplug; relying on the slow poll');
  }
  const toDevice = (d: HidDeviceInfo): AuthenticatorDevice => ({
    kind: 'authenticator',
    key: hidKey(d),
    name: [d.manufacturer, d.product].filter(Boolean).join(' ') || 'FIDO security key',
    transport: 'usb',
    vendorId: d.vendorId,
    productId: d.productId,
    ...(d.serialNumber ? { serialNumber: d.serialNumber } : {}),
    open: async (signal) => {
      const conn: HidConnection = await NodeHidConnection.open(d.path, signal ? { signal } : {});
      const name = [d.manufacturer, d.product].filter(Boolean).join(' ') || 'FIDO security key';
      return CtapHidTransport.open(options.wrap ? options.wrap(conn, { key: hidKey(d), name }) : conn, { kind: 'usb', descriptor: d.path, ...(signal ? { signal } : {}) });
    },
  });
  return {
    name: 'hid',
    list: async () => (await source.list()).map(toDevice),
    watch: (listener) => source.watch((e) => listener({ type: e.type, device: toDevice(e.device) } as ProviderEvent<AuthenticatorDevice>)),
    close: () => {
      devWatch?.close();
      for (const t of timers) clearTimeout(t);
      return source.close();
    },
  };
}

/** Re-enumeration interval of USB keys besides the /dev watch (a safety net, not the hotplug path). */
export const HID_SAFETY_POLL_MS = 10_000;

/**
 * Each key's last key-agreement key (public), shared by the clients of successive transactions
 * so a PIN operation can compute its agreement while the key answers (FidoClient
 * `agreementKeys`). Two entries per key at most; a stale one only costs a recomputation.
 */
const agreementKeys = new Map<string, CoseEc2PublicKey>();

/** The FIDO client factory the agent uses for every transaction. */
export const fidoClientFactory: FidoClientFactory = (t) => new FidoClient(t, { agreementKeys });

/**
 * Something that adds providers or methods to a running agent: H5's reader providers and
 * `sim.card.*` methods, H6's `sim.*` control methods (`agent.registerMethod({name, params, role:
 * 'admin', handler})`). Each runs once, after the built-in providers are added.
 */
export type AgentExtension = (ctx: { agent: Agent; config: AgentConfig; simulator: SimulatedAuthenticatorProvider | null; logger: Logger }) => void | Promise<void>;

/** Extensions every `keytap serve` runs; other modules add one line here. */
export const agentExtensions: AgentExtension[] = [
  // H6: sim.* control plane (plug, unplug, power cycle, touch, PIN state, faults) for --simulate keys.
  ({ agent, simulator }) => {
    if (simulator) for (const m of createSimControl(simulator, { deviceId: (k) => deviceIdFor('authenticator', simulator.name, k) }).methods) agent.registerMethod(m);
  },
];

export interface RunAgentOptions {
  /** Flags from the command line. */
  flags?: RawConfig;
  /** `--config FILE`. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Extra reader providers. */
  readerProviders?: ReaderProvider[];
  /** Extensions in addition to `agentExtensions`. */
  extensions?: AgentExtension[];
}

export interface RunningAgent {
  agent: Agent;
  config: AgentConfig;
  simulator: SimulatedAuthenticatorProvider | null;
  /** The in-process virtual badge reader under `--simulate` (tap cards with `present`/`remove`). */
  virtualReader: VirtualReaderSource | null;
  tokenFileCreated: boolean;
  close(): Promise<void>;
}

/** Resolves the configuration, loads or creates the token file, starts the agent and its providers. */
export async function runAgent(options: RunAgentOptions = {}): Promise<RunningAgent> {
  const config = resolveConfig({ ...(options.configFile ? { file: options.configFile } : {}), env: options.env ?? process.env, ...(options.flags ? { flags: options.flags } : {}) });
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const { store, created } = TokenStore.loadOrCreate(config.tokenFile);
  const agent = new Agent({ config, tokens: store, logger, fidoClient: fidoClientFactory, version: packageVersion() });
  await agent.start();
  let simulator: SimulatedAuthenticatorProvider | null = null;
  let virtualReader: VirtualReaderSource | null = null;
  // The traffic trace (off by default): every key transaction recorded, secrets masked.
  const tracer = config.traceDir ? new TrafficTrace(config.traceDir, { onError: (e) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'cannot write a traffic trace file') }) : null;
  const wrap: ConnectionWrapper | undefined = tracer ? (conn, device) => tracer.wrap(conn, device) : undefined;
  if (tracer) logger.info({ traceDir: tracer.dir }, 'traffic trace on');
  try {
    if (config.simulate.length > 0) {
      simulator = new SimulatedAuthenticatorProvider(config.simulate, wrap ? { wrap } : {});
      await agent.addProvider(simulator);
    }
    if (config.hid) {
      try {
        await agent.addProvider(await createHidProvider(logger, wrap ? { wrap } : {}));
      } catch (e) {
        logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'USB HID security keys unavailable (node-hid could not load); continuing without them');
      }
    }
    for (const p of options.readerProviders ?? []) await agent.addProvider(p);
    virtualReader = await addReaders(agent, config, logger);
    for (const ext of [...agentExtensions, ...(options.extensions ?? [])]) await ext({ agent, config, simulator, logger });
  } catch (e) {
    await agent.close();
    throw e;
  }
  logger.info({ listen: agent.addresses?.tcp, socket: agent.addresses?.socket, tokenFile: config.tokenFile, devices: agent.devices.size }, 'keytap agent ready');
  return { agent, config, simulator, virtualReader, tokenFileCreated: created, close: () => agent.close() };
}

/**
 * Badge readers (docs/readers.md): PC/SC, serial and HID sources from `config.readers`, and under
 * `--simulate` an in-process virtual badge reader with its admin `sim.card.present` /
 * `sim.card.remove` methods. Providers are added before the sources start, so no event is missed.
 */
async function addReaders(agent: Agent, config: AgentConfig, logger: Logger): Promise<VirtualReaderSource | null> {
  const sources = createReaderSources(checkReadersConfig(config.readers), (msg, details) => logger.info(details ?? {}, msg));
  let virtual: VirtualReaderSource | null = null;
  if (config.simulate.length > 0) {
    const v = new VirtualReaderSource();
    virtual = v;
    sources.push({ name: 'vreader', source: v });
    const publicId = (): string | undefined => agent.devices.list().find((d) => d.kind === 'reader' && d.transport === 'virtual' && d.name === v.device.name)?.id;
    for (const m of simCardMethods(v, publicId)) agent.registerMethod(m);
  }
  for (const { name, source } of sources) {
    const p = agentProvidersFor(source, name);
    await agent.addProvider(p.readers);
    await agent.addProvider(p.authenticators);
    source.start();
  }
  return virtual;
}
