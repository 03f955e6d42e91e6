/**
 * PIN change latency against ONE `keytap simulate --udp` virtual authenticator, by three
 * clients: keytap (its own stack), python3-fido2 0.9.1 and libfido2 1.12 (the interop
 * harnesses in test/interop/ in bench mode). Prints medians of N runs (default 30) and the
 * ratios keytap/python and keytap/libfido2. Never asserted anywhere; numbers depend on the
 * machine.
 *
 *   npx tsx bench/pin-change.ts [N]
 *
 * What one iteration is, per client (each on an already-open device, channel allocated):
 * - python-fido2 `ClientPin.change_pin`: getKeyAgreement + changePIN (2 CTAP round trips);
 * - libfido2 `fido_dev_set_pin(dev, new, old)`: getKeyAgreement + changePIN;
 * - keytap raw CTAPHID: the same two round trips with keytap's codecs (H1) over keytap's UDP
 *   HidConnection + CtapHidTransport (H3);
 * - keytap FidoClient.changePin (when src/fido/fido-client.ts exists): the full flow keytap
 *   offers (reads getInfo and retries, checks the PIN rules, changes, then verifies the new
 *   state), so it does more round trips than the other two by design.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { UdpHidConnection } from '../src/drivers/udp/udp-hid-connection.ts';
import { CtapHidTransport } from '../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../src/protocol/ctaphid/constants.ts';
import { frameRequest, parseResponse } from '../src/protocol/ctap2/frame.ts';
import { ClientPin, ClientPinSubcommand } from '../src/protocol/ctap2/client-pin.ts';
import { GetInfo } from '../src/protocol/ctap2/get-info.ts';
import { changePinParams, pinProtocol, setPinParams } from '../src/protocol/pin/pin-protocol.ts';
import { Pin } from '../src/protocol/secret.ts';
import { spawnSimulator, repoRoot } from '../test/interop/spawn-simulator.ts';
import { buildLibfido2Harness } from '../test/interop/build-libfido2-harness.ts';

const run = promisify(execFile);
const N = Math.max(30, Number(process.argv[2] ?? 30));
const PINS = ['1234', '5678'] as const;
/**
 * Unmeasured first iterations per client, dropped from the stats: the agent is a long-running
 * process, so keytap is measured warm (V8 optimises its codecs after a few dozen calls); the C
 * and Python clients get the same number of unmeasured runs.
 */
const WARMUP = 40;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!;
}

/** keytap's own codecs and transport, the same two round trips as the other clients. */
async function keytapRaw(url: string, n: number): Promise<number[]> {
  const t = await CtapHidTransport.open(await UdpHidConnection.open(url), { kind: 'udp', descriptor: url });
  const proto = pinProtocol(2);
  const call = async (subCommand: number, extra: object = {}) =>
    parseResponse(ClientPin, await t.exchange(CtapHidCmd.CBOR, frameRequest(ClientPin, { pinUvAuthProtocol: 2, subCommand, ...extra })));
  const agree = async () => proto.encapsulate((await call(ClientPinSubcommand.getKeyAgreement)).keyAgreement!);
  const enc = new TextEncoder();
  const info = parseResponse(GetInfo, await t.exchange(CtapHidCmd.CBOR, frameRequest(GetInfo, undefined)));
  if (!info.options?.clientPin) {
    const e = await agree();
    await call(ClientPinSubcommand.setPIN, { keyAgreement: e.keyAgreement, ...setPinParams(proto, e.sharedSecret, enc.encode(PINS[0])) });
  }
  const ms: number[] = [];
  for (let i = 0; i < n + (n % 2); i++) {
    const t0 = performance.now();
    const e = await agree();
    await call(ClientPinSubcommand.changePIN, { keyAgreement: e.keyAgreement, ...changePinParams(proto, e.sharedSecret, enc.encode(PINS[i % 2]), enc.encode(PINS[(i + 1) % 2])) });
    e.sharedSecret.wipe();
    if (i < n) ms.push(performance.now() - t0);
  }
  await t.close();
  return ms;
}

/** H3's FidoClient, if it has landed; null otherwise. */
async function keytapFidoClient(url: string, n: number): Promise<number[] | null> {
  const path = join(repoRoot, 'src/fido/fido-client.ts');
  if (!existsSync(path)) return null;
  const mod: any = await import(pathToFileURL(path).href);
  const t = await CtapHidTransport.open(await UdpHidConnection.open(url), { kind: 'udp', descriptor: url });
  const client = new mod.FidoClient(t);
  const ms: number[] = [];
  for (let i = 0; i < n + (n % 2); i++) {
    const cur = Pin.fromString(PINS[i % 2]);
    const next = Pin.fromString(PINS[(i + 1) % 2]);
    const t0 = performance.now();
    await client.changePin(cur, next);
    if (i < n) ms.push(performance.now() - t0);
  }
  await t.close();
  return ms;
}

async function main(): Promise<void> {
  const sim = await spawnSimulator();
  const url = `udp://${sim.host}:${sim.port}`;
  const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-'));
  const rows: Array<{ client: string; ms: number[] }> = [];
  try {
    // python first: it sets the initial PIN on the fresh key; every client leaves it at PINS[0].
    const bin = await buildLibfido2Harness(dir);
    for (const mode of ['bench', 'bench-verified']) {
      const py = await run('/usr/bin/python3', [join(repoRoot, 'test/interop/fido2_udp.py'), sim.host, String(sim.port), mode, String(N + WARMUP)], { timeout: 120_000 });
      rows.push(JSON.parse(py.stdout.trim().split('\n').pop()!));
      const c = await run(bin, [sim.host, String(sim.port), mode, String(N + WARMUP)], { timeout: 120_000 });
      rows.push(JSON.parse(c.stdout.trim().split('\n').pop()!));
    }
    rows.push({ client: 'keytap raw CTAPHID (codecs + CtapHidTransport)', ms: await keytapRaw(url, N + WARMUP) });
    const fc = await keytapFidoClient(url, N + WARMUP);
    if (fc) rows.push({ client: 'keytap FidoClient.changePin (verified)', ms: fc });
    else console.log('note: src/fido/fido-client.ts is not there yet; measured the raw CTAPHID keytap path only');
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  for (const r of rows) r.ms = r.ms.slice(WARMUP);
  const med = Object.fromEntries(rows.map((r) => [r.client, median(r.ms)]));
  console.log(`\nPIN change on keytap simulate --udp (${url}), N = ${N} each after ${WARMUP} warm-up runs, ${new Date().toISOString()}`);
  console.log(`${'client'.padEnd(50)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(8)}`);
  for (const r of rows) console.log(`${r.client.padEnd(50)} ${median(r.ms).toFixed(3).padStart(10)} ${p90(r.ms).toFixed(3).padStart(8)}`);
  // Like for like: the raw path against the plain changes (2 round trips each), the verified
  // FidoClient flow against the baselines doing the same reads before and after (6 each).
  const find = (prefix: string, verified: boolean) => rows.find((r) => r.client.startsWith(prefix) && r.client.includes('same reads') === verified)!;
  for (const k of rows.filter((r) => r.client.startsWith('keytap'))) {
    const verified = k.client.includes('verified');
    const py = find('python', verified);
    const c = find('libfido2', verified);
    console.log(`ratio ${k.client} / ${py.client}: ${(med[k.client]! / med[py.client]!).toFixed(2)}x   / ${c.client}: ${(med[k.client]! / med[c.client]!).toFixed(2)}x`);
  }
}

await main();
