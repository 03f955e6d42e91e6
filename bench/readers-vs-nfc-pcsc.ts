/**
 * Card in → card event: keytap versus nfc-pcsc 0.8.1 (which also reads the UID with
 * `FF CA 00 00 00` before its `card` event), both listening to the same pcscd at the same time,
 * on the same virtual card presented through vpcd, in the same run (goal: keytap ≤ 1.0×).
 * t0 = the virtual card's connection to vpcd is up. Most of either number is pcscd's 400 ms
 * presence polling, which both share; the ratio shows what each adds on top.
 *
 *   npx tsx bench/readers-vs-nfc-pcsc.ts [TRIALS=20]
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { PcscReaderSource } from '../src/readers/pcsc-reader-source.ts';
import { VpcdCardClient } from '../src/sim/vpcd/vpcd-card-client.ts';
import { VirtualBadgeCard } from '../src/sim/vpcd/virtual-card.ts';

const TRIALS = Number(process.argv[2] ?? 20);
const READER = 'Virtual PCD 00 00';
if (!existsSync('/run/pcscd/pcscd.comm')) {
  console.log('pcscd is not running (start it with `pcscd -f -e &`); nothing measured');
  process.exit(0);
}
const require = createRequire(import.meta.url);
// nfc-pcsc ships no types; it is a devDependency used only here.
const { NFC } = require('nfc-pcsc') as { NFC: new (logger?: unknown) => any };
const quiet = { log() {}, info() {}, warn() {}, error() {}, debug() {} };
const nfc = new NFC(quiet);
let nfcAt: ((t: number, uid: string) => void) | null = null;
nfc.on('reader', (reader: any) => {
  reader.on('card', (card: { uid?: string }) => {
    if (reader.reader.name === READER) nfcAt?.(performance.now(), card.uid ?? '');
  });
  reader.on('error', () => {});
});
nfc.on('error', () => {});

const source = new PcscReaderSource({ log: (m, d) => console.error('keytap:', m, JSON.stringify(d)) });
let keytapAt: ((t: number, uid: string) => void) | null = null;
let removed: (() => void) | null = null;
source.cards((e) => {
  if (e.readerName !== READER) return;
  if (e.type === 'card.present') keytapAt?.(performance.now(), e.uid ?? '');
  else removed?.();
});
source.start();
await new Promise((r) => setTimeout(r, 1000));

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const k: number[] = [];
const n: number[] = [];
const ratio: number[] = [];
const diff: number[] = [];
for (let i = 0; i < TRIALS; i++) {
  const uid = `b0${i.toString(16).padStart(2, '0')}c0de`;
  const card = new VpcdCardClient(new VirtualBadgeCard(Buffer.from(uid, 'hex')), { port: 35963 });
  card.on('error', () => {});
  const kp = new Promise<[number, string]>((r) => (keytapAt = (t, u) => r([t, u])));
  const np = new Promise<[number, string]>((r) => (nfcAt = (t, u) => r([t, u])));
  await card.insert();
  const t0 = performance.now();
  // A timer keeps the loop alive and names a missed event instead of exiting silently.
  let timer: NodeJS.Timeout | undefined;
  const miss = new Promise<never>((_, j) => (timer = setTimeout(() => j(new Error(`trial ${i}: no event within 5 s`)), 5000)));
  const [[tk, uk], [tn, un]] = await Promise.race([Promise.all([kp, np]), miss]);
  clearTimeout(timer);
  if (uk !== uid || un.toLowerCase() !== uid) throw new Error(`UID mismatch: keytap ${uk}, nfc-pcsc ${un}, card ${uid}`);
  k.push(tk - t0);
  n.push(tn - t0);
  ratio.push((tk - t0) / (tn - t0));
  diff.push(tk - tn);
  const gone = new Promise<void>((r) => (removed = r));
  card.close();
  await gone;
  await new Promise((r) => setTimeout(r, 100 + Math.random() * 400)); // de-phase from pcscd's 400 ms poll
}
const line = (name: string, xs: number[]): string => `${name.padEnd(40)} p50 ${pct(xs, 50).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms  min ${Math.min(...xs).toFixed(1)} ms`;
console.log(line('keytap card.present (UID read)', k));
console.log(line('nfc-pcsc card (UID read)', n));
console.log(`keytap − nfc-pcsc per trial: p50 ${pct(diff, 50).toFixed(2)} ms  min ${Math.min(...diff).toFixed(2)} ms  max ${Math.max(...diff).toFixed(2)} ms`);
console.log(`keytap / nfc-pcsc per trial: p50 ${pct(ratio, 50).toFixed(3)}×  p99 ${pct(ratio, 99).toFixed(3)}×  (ratio of medians ${(pct(k, 50) / pct(n, 50)).toFixed(3)}×, n=${TRIALS})`);
await source.close();
nfc.close?.();
process.exit(0);
