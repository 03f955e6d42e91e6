/**
 * Records every PIN scenario of the virtual authenticator (profile yubikey-5-nfc-5.7) through
 * keytap's real host stack (CtapHidTransport + FidoClient) with `TraceRecorder`, masked:
 * fixtures/traces/hid/virtual-yubikey-5-nfc-5.7/<scenario>.trace.
 *
 *   npx tsx scripts/record-virtual-traces.ts          # (re)write them
 *   npx tsx scripts/record-virtual-traces.ts --check  # exit 1 if a committed one differs
 *
 * Randomness on both sides is seeded (SHA-256 of a counter), so a recording is reproducible
 * byte for byte and test/unit/trace/virtual-traces.test.ts can check the fixtures are current.
 * The state a scenario starts from is set up through the same client on an unrecorded
 * connection; only the scenario itself is recorded.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VirtualAuthenticator } from '../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../src/sim/env.ts';
import { loadProfile } from '../src/sim/profiles.ts';
import { VirtualHidDevice } from '../src/sim/virtual-hid.ts';
import { TraceRecorder } from '../src/sim/trace/trace-recorder.ts';
import { CtapHidTransport } from '../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../src/fido/fido-client.ts';
import { Pin } from '../src/protocol/secret.ts';
import type { HidConnection } from '../src/drivers/hid-connection.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PROFILE = 'yubikey-5-nfc-5.7';
export const VIRTUAL_DIR = join(ROOT, 'fixtures/traces/hid', `virtual-${PROFILE}`);
/** The PINs the scenarios use (test material; the recordings must not contain them). */
export const SCENARIO_PINS = { pin: '4826', newPin: '739105', wrong: '000000' } as const;

/** Deterministic randomness: SHA-256(seed ‖ counter), so recordings are reproducible. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

/** One virtual key plus helpers to open clients on it (recorded or not). */
export class VirtualRig {
  readonly authenticator: VirtualAuthenticator;
  readonly device: VirtualHidDevice;
  readonly #random: (n: number) => Uint8Array;

  constructor(seed: string, options: { onResponse?: (req: Uint8Array, res: Uint8Array) => void } = {}) {
    const profile = loadProfile(PROFILE);
    this.#random = seededRandom(`${seed}/host`);
    this.authenticator = new VirtualAuthenticator({ profile, env: createSimEnv({ random: seededRandom(`${seed}/device`) }) });
    const auth = this.authenticator;
    const handler = options.onResponse
      ? {
          handleCbor: async (req: Uint8Array, o: Parameters<VirtualAuthenticator['handleCbor']>[1]) => {
            const res = await auth.handleCbor(req, o);
            options.onResponse!(req, res);
            return res;
          },
        }
      : auth;
    const { deviceVersion, capabilities } = profile.ctaphid;
    this.device = new VirtualHidDevice(handler, { deviceVersion, capabilities });
  }

  /** A client on a fresh handle; `wrap` decorates the connection (the recorder). */
  async client(wrap: (c: HidConnection) => HidConnection = (c) => c): Promise<FidoClient> {
    const t = await CtapHidTransport.open(wrap(this.device.open()), { kind: 'virtual', descriptor: 'virtual://keytap-sim', random: this.#random });
    return new FidoClient(t, { random: this.#random });
  }

  /** Runs `fn` on an unrecorded client. */
  async setup<T>(fn: (c: FidoClient) => Promise<T>): Promise<T> {
    const c = await this.client();
    try {
      return await fn(c);
    } finally {
      await c.transport.close();
    }
  }

  /** Unplug and re-insert: clears the soft block (CTAP 2.1 §6.5.2.1) and reopens the reset window. */
  powerCycle(): void {
    this.device.unplug();
    this.authenticator.powerCycle();
    this.device.plug();
  }

  /** Spends `n` wrong attempts, power-cycling before each soft lock (3 in a row). */
  async wrongAttempts(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % 3 === 0) this.powerCycle();
      await this.setup((c) => c.verifyPin(Pin.fromString(SCENARIO_PINS.wrong), { confirmLastAttempt: true })).catch(() => undefined);
    }
  }
}

interface Scenario {
  file: string;
  title: string;
  prepare(rig: VirtualRig): Promise<void>;
  run(c: FidoClient, rig: VirtualRig): Promise<unknown>;
}

const setPin = (rig: VirtualRig) => rig.setup((c) => c.setPin(Pin.fromString(SCENARIO_PINS.pin))).then(() => undefined);
const outcome = async (p: Promise<unknown>): Promise<string> => {
  try {
    return `ok ${JSON.stringify(await p)}`;
  } catch (e) {
    const err = e as { code?: string; details?: Record<string, unknown> };
    return `error ${err.code} ${JSON.stringify({ retriesLeft: err.details?.retriesLeft })}`;
  }
};

/** The PIN scenarios (fido.md §5 numbers: 8 retries, soft lock after 3 in a row, hard lock at 0). */
export const VIRTUAL_SCENARIOS: Scenario[] = [
  { file: 'set-pin', title: 'setPin on a fresh key (no PIN): verified state ok, 8 retries', prepare: async () => undefined, run: (c) => c.setPin(Pin.fromString(SCENARIO_PINS.pin)) },
  { file: 'change-pin', title: 'changePin with the right current PIN: verified state ok, 8 retries', prepare: setPin, run: (c) => c.changePin(Pin.fromString(SCENARIO_PINS.pin), Pin.fromString(SCENARIO_PINS.newPin)) },
  { file: 'verify-pin', title: 'verifyPin with the right PIN: a pinUvAuthToken is obtained (masked) and discarded; 8 retries', prepare: setPin, run: (c) => c.verifyPin(Pin.fromString(SCENARIO_PINS.pin)) },
  { file: 'wrong-pin', title: 'verifyPin with a wrong PIN: PIN_INVALID, 7 retries left (re-read after the attempt)', prepare: setPin, run: (c) => c.verifyPin(Pin.fromString(SCENARIO_PINS.wrong)) },
  {
    file: 'soft-block',
    title: 'the 3rd wrong PIN in a row: PIN_SOFT_BLOCKED (0x34), 5 left; then pinStatus says soft-blocked until a power cycle',
    prepare: async (rig) => {
      await setPin(rig);
      await rig.wrongAttempts(2);
    },
    run: async (c) => [await outcome(c.verifyPin(Pin.fromString(SCENARIO_PINS.wrong))), await c.pinStatus()],
  },
  {
    file: 'blocked',
    title: 'the last attempt, confirmed, wrong: PIN_BLOCKED; then pinStatus says blocked (retries 0: only a reset recovers)',
    prepare: async (rig) => {
      await setPin(rig);
      await rig.wrongAttempts(7);
      rig.powerCycle();
    },
    run: async (c) => [await outcome(c.verifyPin(Pin.fromString(SCENARIO_PINS.wrong), { confirmLastAttempt: true })), await c.pinStatus()],
  },
  {
    file: 'reset',
    title: 'reset of a blocked key inside the window after power-up, touch approved: no PIN afterwards',
    prepare: async (rig) => {
      await setPin(rig);
      await rig.wrongAttempts(8);
      rig.powerCycle();
    },
    run: (c) => c.reset(),
  },
];

/** Records every scenario; resolves with relative path -> trace text, and the scenario outcomes. */
export async function recordVirtualTraces(options: { onResponse?: (req: Uint8Array, res: Uint8Array) => void } = {}): Promise<{ traces: Map<string, string>; outcomes: Map<string, string> }> {
  const traces = new Map<string, string>();
  const outcomes = new Map<string, string>();
  for (const sc of VIRTUAL_SCENARIOS) {
    const rig = new VirtualRig(sc.file, options);
    await sc.prepare(rig);
    const rec = new TraceRecorder({
      transport: 'hid',
      device: `keytap virtual authenticator, profile ${PROFILE}`,
      provenance: `recorded by scripts/record-virtual-traces.ts from keytap's virtual authenticator through CtapHidTransport + FidoClient; seeded randomness; clientPIN secrets masked`,
      fields: [
        ['scenario', sc.file],
        ['generated-by', 'scripts/record-virtual-traces.ts (do not edit by hand; re-run the script)'],
      ],
    });
    rec.note(sc.title);
    const c = await rig.client((conn) => rec.wrap(conn));
    const result = await outcome(sc.run(c, rig));
    await c.transport.close();
    rec.note(`result: ${result}`);
    outcomes.set(sc.file, result);
    traces.set(`hid/virtual-${PROFILE}/${sc.file}.trace`, rec.toText());
  }
  return { traces, outcomes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const { traces, outcomes } = await recordVirtualTraces();
  let stale = 0;
  for (const [rel, text] of traces) {
    const path = join(ROOT, 'fixtures/traces', rel);
    if (existsSync(path) && readFileSync(path, 'utf8') === text) continue;
    if (check) {
      console.error(`out of date: fixtures/traces/${rel}`);
      stale++;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote fixtures/traces/${rel}: ${outcomes.get(rel.replace(/^.*\//, '').replace('.trace', ''))}`);
    }
  }
  if (stale) process.exit(1);
}
