/**
 * Time the agent adds between having a card's UID in hand and the `card.present` notification
 * reaching a WebSocket client (goal ≤ 2 ms p99).
 *
 * 1. Virtual badge reader (`serve --simulate`): t0 just before the reader emits the tap (the UID
 *    is in hand), t1 when the client's `card.present` arrives. N taps (present + remove).
 * 2. Real pcscd + vpcd (when pcscd runs): t0 in a listener registered on the PcscReaderSource
 *    before the agent's (called right after GET DATA returned), t1 at the client. M taps.
 *
 *   npx tsx bench/readers-event-latency.ts [N=2000] [M=20]
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent } from '../src/main.ts';
import { KeytapClient } from '../src/client/keytap-client.ts';
import { PcscReaderSource } from '../src/readers/pcsc-reader-source.ts';
import { agentProvidersFor } from '../src/readers/agent-providers.ts';
import { VpcdCardClient } from '../src/sim/vpcd/vpcd-card-client.ts';
import { VirtualBadgeCard } from '../src/sim/vpcd/virtual-card.ts';

const N = Number(process.argv[2] ?? 2000);
const M = Number(process.argv[3] ?? 20);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (name: string, xs: number[]): string => `${name.padEnd(52)} p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms  max ${Math.max(...xs).toFixed(3)} ms  (n=${xs.length})`;

const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-readers-'));
const tokenFile = join(dir, 'tokens.json');
const running = await runAgent({ flags: { simulate: [''], hid: false, listen: '127.0.0.1:0', socket: false, tokenFile, logLevel: 'silent', readers: { pcsc: false } }, env: {} });
const url = `ws://127.0.0.1:${running.agent.addresses!.tcp[0]!.port}/`;
const client = await KeytapClient.connect({ url, tokenFile, role: 'client', subscribe: ['card'] });

let waiting: ((t: number) => void) | null = null;
let waitingRemoved: (() => void) | null = null;
client.on('card.present', () => waiting?.(performance.now()));
client.on('card.removed', () => waitingRemoved?.());
const arrival = (): Promise<number> => new Promise((r) => (waiting = r));
const removal = (): Promise<void> => new Promise((r) => (waitingRemoved = r));

// 1. Virtual reader.
const vr = running.virtualReader!;
const virt: number[] = [];
for (let i = 0; i < N + 200; i++) {
  const got = arrival();
  const t0 = performance.now();
  vr.present((0x10000000 + i).toString(16));
  const t1 = await got;
  if (i >= 200) virt.push(t1 - t0); // warm-up excluded
  // Wait for the tap out too, so each measurement starts from a quiet connection.
  const out = removal();
  vr.remove();
  await out;
}
console.log(fmt('virtual reader: UID in hand → card.present at client', virt));

// 2. Real pcscd + vpcd.
if (existsSync('/run/pcscd/pcscd.comm') && M > 0) {
  const source = new PcscReaderSource();
  let t0 = 0;
  source.cards((e) => {
    if (e.type === 'card.present') t0 = performance.now();
  });
  const p = agentProvidersFor(source, 'pcsc');
  await running.agent.addProvider(p.readers);
  await running.agent.addProvider(p.authenticators);
  source.start();
  await new Promise((r) => setTimeout(r, 500));
  const real: number[] = [];
  for (let i = 0; i < M; i++) {
    const card = new VpcdCardClient(new VirtualBadgeCard(Uint8Array.of(0xa0, 0, 0, i)), { port: 35963 });
    card.on('error', () => {});
    const got = arrival();
    await card.insert();
    const t1 = await got;
    real.push(t1 - t0);
    const gone = new Promise<void>((r) => {
      const off = source.cards((e) => {
        if (e.type === 'card.removed') {
          off();
          r();
        }
      });
    });
    card.close();
    await gone;
  }
  console.log(fmt('pcscd+vpcd: UID in hand → card.present at client', real));
}
client.close();
await running.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
