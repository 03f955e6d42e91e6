/**
 * Fan-out of events: 100 clients (in a separate process, as real clients are) subscribed to
 * `device`; a simulated key in the agent is unplugged and plugged E times. Latency is from the
 * provider's event in the agent to each client's receipt (epoch clock shared by both processes);
 * every client must receive every event. Then a burst of E events without waiting, to check
 * nothing is dropped under load. Goal: p99 ≤ 10 ms, nothing lost.
 *
 *   npx tsx bench/agent-fanout.ts [CLIENTS=100] [EVENTS=200]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../src/agent/agent.ts';
import { resolveConfig } from '../src/agent/config.ts';
import { createLogger } from '../src/agent/logger.ts';
import { TokenStore } from '../src/agent/token-store.ts';
import { SimulatedAuthenticatorProvider, fidoClientFactory } from '../src/main.ts';

const CLIENTS = Number(process.argv[2] ?? 100);
const EVENTS = Number(process.argv[3] ?? 200);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const now = (): number => performance.timeOrigin + performance.now();

const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-'));
const config = resolveConfig({ env: {}, flags: { listen: ['127.0.0.1:0'], socket: join(dir, 'k.sock'), hid: false, limits: { maxConnections: CLIENTS + 10 } } });
const token = 'bench-token-0123456789abcdef';
const agent = new Agent({ config, tokens: TokenStore.fromTokens([{ role: 'client', token }]), logger: createLogger({ level: 'silent' }), fidoClient: fidoClientFactory });
await agent.start();
const sim = new SimulatedAuthenticatorProvider(['']);
await agent.addProvider(sim);

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./_agent-fanout-clients.ts', import.meta.url).pathname, agent.url!, token, String(CLIENTS)], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout! });
const waiters: Array<(l: string) => void> = [];
const queue: string[] = [];
lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : queue.push(l)));
const next = (): Promise<string> => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
const until = async (want: string): Promise<void> => {
  while ((await next()) !== want);
};

await until('ready');
const sent: number[] = [];
for (let e = 0; e < EVENTS; e++) {
  sent.push(now());
  if (e % 2 === 0) sim.unplug(0);
  else sim.plug(0);
  await until(`ack ${e + 1}`);
}
const burstStart = now();
for (let e = 0; e < EVENTS; e++) {
  sent.push(now());
  if (e % 2 === 0) sim.unplug(0);
  else sim.plug(0);
}
await until(`ack ${2 * EVENTS}`);
const burstMs = now() - burstStart;
child.stdin!.end();
const times = JSON.parse(await next()) as number[][];
const lat: number[] = [];
let lost = 0;
for (const t of times) {
  lost += 2 * EVENTS - t.length;
  for (let k = 0; k < EVENTS; k++) lat.push(t[k] - sent[k]);
}
console.log(`${CLIENTS} clients (separate process) × ${EVENTS} events, one at a time: lost ${lost}`);
console.log(`latency p50 ${pct(lat, 50).toFixed(3)} ms  p99 ${pct(lat, 99).toFixed(3)} ms  max ${Math.max(...lat).toFixed(3)} ms  (goal p99 ≤ 10 ms, nothing lost) ${pct(lat, 99) <= 10 && lost === 0 ? 'MEETS GOAL' : 'MISSES GOAL'}`);
console.log(`burst: ${EVENTS} events × ${CLIENTS} clients = ${EVENTS * CLIENTS} notifications delivered in ${burstMs.toFixed(1)} ms`);
await agent.close();
rmSync(dir, { recursive: true, force: true });
