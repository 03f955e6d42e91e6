/**
 * PIN change latency against ONE `keytap simulate --udp` virtual authenticator, by three
 * clients: keytap (its own stack), python3-fido2 0.9.1 and libfido2 1.12 (the interop
 * harnesses in test/interop/ in bench mode). The clients take turns over several rounds; the
 * bench prints each one's median and p90 over N measured runs (default 240) and the ratios
 * keytap/python and keytap/libfido2. Never asserted anywhere; numbers depend on the machine.
 *
 *   npx tsx bench/pin-change.ts [N]      (npm run bench -- pin-change)
 *   KEYTAP_BENCH_DUMP=1 …                 also prints every measured time per client
 *
 * How it measures and what it found: docs/pin-management.md §9.
 *
 * What one iteration is, per client (each on an already-open device, channel allocated):
 * - python-fido2 `ClientPin.change_pin`: getKeyAgreement + changePIN (2 CTAP round trips);
 * - libfido2 `fido_dev_set_pin(dev, new, old)`: getKeyAgreement + changePIN;
 * - keytap raw CTAPHID: the same two round trips with keytap's codecs over keytap's UDP
 *   HidConnection + CtapHidTransport;
 * - keytap FidoClient.changePin: the full flow keytap offers (reads getInfo and retries,
 *   checks the PIN rules, changes, then verifies the new state): six round trips, compared with
 *   the python and C harnesses in their "same reads" mode (bench-verified), which do the same.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UdpHidConnection } from '../src/drivers/udp/udp-hid-connection.ts';
import { CtapHidTransport } from '../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../src/protocol/ctaphid/constants.ts';
import { frameRequest, parseResponse } from '../src/protocol/ctap2/frame.ts';
import { ClientPin, ClientPinSubcommand } from '../src/protocol/ctap2/client-pin.ts';
import { GetInfo } from '../src/protocol/ctap2/get-info.ts';
import { changePinParams, pinProtocol, setPinParams } from '../src/protocol/pin/pin-protocol.ts';
import { Pin } from '../src/protocol/secret.ts';
import { FidoClient } from '../src/fido/fido-client.ts';
import { spawnSimulator, repoRoot } from '../test/interop/spawn-simulator.ts';
import { buildLibfido2Harness } from '../test/interop/build-libfido2-harness.ts';

const run = promisify(execFile);
/** Measured PIN changes per client, spread over the rounds (at least 30; default 240). */
const N = Math.max(30, Number(process.argv[2] ?? 240));
const PINS = ['1234', '5678'] as const;
/**
 * The clients take turns in ROUNDS rounds (the order rotates each round), so a slow spell of
 * the shared 2-core machine hits all of them instead of whichever happened to run then.
 */
const ROUNDS = 24;
/** Unmeasured runs at the start of every client's turn (even, so each run ends at PINS[0]). */
const TURN_WARMUP = 10;
/**
 * Unmeasured keytap runs before the first round. They warm two Node processes: keytap, which
 * as a long-running agent is measured warm (V8 optimises its codecs after a few dozen calls),
 * and the simulator every client talks to, whose first few hundred requests are slower (until
 * V8 has optimised it) and would otherwise penalise whichever client runs first. The C and
 * Python clients are fresh processes each turn and get TURN_WARMUP runs, as keytap does.
 */
const WARMUP = 300;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!;
}

type Measure = (n: number) => Promise<number[]>;

/** keytap's own codecs and transport, the same two round trips as the other clients. */
async function keytapRaw(url: string): Promise<{ measure: Measure; close: () => Promise<void> }> {
  const t = await CtapHidTransport.open(await UdpHidConnection.open(url), { kind: 'udp', descriptor: url });
  const proto = pinProtocol(2);
  const call = async (subCommand: number, extra: object = {}) =>
    parseResponse(ClientPin, await t.exchange(CtapHidCmd.CBOR, frameRequest(ClientPin, { pinUvAuthProtocol: 2, subCommand, ...extra })));
  // As FidoClient does: the ephemeral key is made while the key answers getKeyAgreement.
  const agree = async () => {
    const reply = call(ClientPinSubcommand.getKeyAgreement);
    const ephemeral = proto.prepareEphemeral();
    return proto.encapsulate((await reply).keyAgreement!, ephemeral);
  };
  const enc = new TextEncoder();
  const info = parseResponse(GetInfo, await t.exchange(CtapHidCmd.CBOR, frameRequest(GetInfo, undefined)));
  if (!info.options?.clientPin) {
    const e = await agree();
    await call(ClientPinSubcommand.setPIN, { keyAgreement: e.keyAgreement, ...setPinParams(proto, e.sharedSecret, enc.encode(PINS[0])) });
  }
  const measure: Measure = async (n) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const e = await agree();
      await call(ClientPinSubcommand.changePIN, { keyAgreement: e.keyAgreement, ...changePinParams(proto, e.sharedSecret, enc.encode(PINS[i % 2]), enc.encode(PINS[(i + 1) % 2])) });
      e.sharedSecret.wipe();
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  return { measure, close: () => t.close() };
}

/** keytap's FidoClient.changePin: state read, change, verified re-read. */
async function keytapFidoClient(url: string): Promise<{ measure: Measure; close: () => Promise<void> }> {
  const t = await CtapHidTransport.open(await UdpHidConnection.open(url), { kind: 'udp', descriptor: url });
  const client = new FidoClient(t);
  const measure: Measure = async (n) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const cur = Pin.fromString(PINS[i % 2]);
      const next = Pin.fromString(PINS[(i + 1) % 2]);
      const t0 = performance.now();
      await client.changePin(cur, next);
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  return { measure, close: () => t.close() };
}

/** Runs an external harness for `warmup + n` changes and returns the last `n` timings. */
async function external(file: string, args: string[], n: number): Promise<{ client: string; ms: number[] }> {
  const r = await run(file, [...args, String(TURN_WARMUP + n)], { timeout: 120_000 });
  const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as { client: string; ms: number[] };
  return { client: row.client, ms: row.ms.slice(TURN_WARMUP) };
}

async function main(): Promise<void> {
  const sim = await spawnSimulator();
  const url = `udp://${sim.host}:${sim.port}`;
  const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-'));
  const perTurn = Math.ceil(N / ROUNDS) + (Math.ceil(N / ROUNDS) % 2); // even: each turn ends at PINS[0]
  const rows = new Map<string, number[]>();
  const roundMedians = new Map<string, number[]>();
  const keep = (client: string, ms: number[]): void => {
    rows.set(client, [...(rows.get(client) ?? []), ...ms]);
    roundMedians.set(client, [...(roundMedians.get(client) ?? []), median(ms)]);
  };
  try {
    const bin = await buildLibfido2Harness(dir);
    const py = join(repoRoot, 'test/interop/fido2_udp.py');
    // python first: it sets the initial PIN on the fresh key; every turn leaves it at PINS[0].
    await run('/usr/bin/python3', [py, sim.host, String(sim.port), 'bench', '2'], { timeout: 120_000 });
    const raw = await keytapRaw(url);
    const verified = await keytapFidoClient(url);
    await raw.measure(WARMUP);
    await verified.measure(WARMUP);
    const turns: Array<() => Promise<void>> = [];
    for (const mode of ['bench', 'bench-verified']) {
      turns.push(async () => {
        const r = await external('/usr/bin/python3', [py, sim.host, String(sim.port), mode], perTurn);
        keep(r.client, r.ms);
      });
      turns.push(async () => {
        const r = await external(bin, [sim.host, String(sim.port), mode], perTurn);
        keep(r.client, r.ms);
      });
    }
    turns.push(async () => {
      await raw.measure(TURN_WARMUP);
      keep('keytap raw CTAPHID (codecs + CtapHidTransport)', await raw.measure(perTurn));
    });
    turns.push(async () => {
      await verified.measure(TURN_WARMUP);
      keep('keytap FidoClient.changePin (verified)', await verified.measure(perTurn));
    });
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < turns.length; k++) await turns[(k + round) % turns.length]!();
    }
    await raw.close();
    await verified.close();
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  if (process.env.KEYTAP_BENCH_DUMP) for (const [c, ms] of rows) console.log(c, ms.map((x) => x.toFixed(2)).join(" "));
  const names = [...rows.keys()].sort();
  const med = Object.fromEntries(names.map((c) => [c, median(rows.get(c)!)]));
  console.log(`\nPIN change on keytap simulate --udp (${url}): ${ROUNDS} rounds, ${perTurn} measured runs per client per round after ${TURN_WARMUP} unmeasured ones, ${new Date().toISOString()}`);
  console.log(`${'client'.padEnd(50)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(8)} ${'n'.padStart(4)}`);
  for (const c of names) console.log(`${c.padEnd(50)} ${med[c]!.toFixed(3).padStart(10)} ${p90(rows.get(c)!).toFixed(3).padStart(8)} ${String(rows.get(c)!.length).padStart(4)}`);
  // Like for like: the raw path against the plain changes (2 round trips each), the verified
  // FidoClient flow against the baselines doing the same reads before and after (6 each).
  // "per round": the median over rounds of the ratio within each round (robust to drift).
  const find = (prefix: string, same: boolean) => names.find((c) => c.startsWith(prefix) && c.includes('same reads') === same)!;
  const perRound = (a: string, b: string) => median(roundMedians.get(a)!.map((x, i) => x / roundMedians.get(b)![i]!));
  for (const k of names.filter((c) => c.startsWith('keytap'))) {
    const same = k.includes('verified');
    for (const base of [find('python', same), find('libfido2', same)]) {
      console.log(`ratio ${k} / ${base}: ${(med[k]! / med[base]!).toFixed(2)}x (per round ${perRound(k, base).toFixed(2)}x)`);
    }
  }
}

await main();
