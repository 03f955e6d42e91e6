/**
 * Overhead of the agent: `fido.info` through the agent (SDK → WebSocket → JSON-RPC dispatch →
 * device queue → FidoClient → virtual key) versus the same call on the client library
 * in-process (open transport → FidoClient.getInfo → close, as the broker does per request).
 * Both sides use the same in-memory virtual key, so the difference is the agent's cost.
 * Goals: ≤ 1 ms p50 and ≤ 3 ms p99 overhead.
 *
 *   npx tsx bench/agent-overhead.ts [N=2000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/agent.ts';
import { resolveConfig } from '../src/agent/config.ts';
import { createLogger } from '../src/agent/logger.ts';
import { TokenStore } from '../src/agent/token-store.ts';
import { SimulatedAuthenticatorProvider, fidoClientFactory } from '../src/main.ts';
import { KeytapClient } from '../src/client/keytap-client.ts';
import { FidoClient } from '../src/fido/fido-client.ts';

const N = Number(process.argv[2] ?? 2000);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-'));
const config = resolveConfig({ env: {}, flags: { listen: ['127.0.0.1:0'], socket: join(dir, 'k.sock'), hid: false } });
const token = 'bench-token-0123456789abcdef';
const agent = new Agent({ config, tokens: TokenStore.fromTokens([{ role: 'client', token }]), logger: createLogger({ level: 'silent' }), fidoClient: fidoClientFactory });
await agent.start();
const sim = new SimulatedAuthenticatorProvider(['']);
await agent.addProvider(sim);
const device = agent.devices.list()[0].id;
const dev = sim.keys[0].device;

async function direct(): Promise<void> {
  const t = await dev.open();
  try {
    await new FidoClient(t).getInfo();
  } finally {
    await t.close();
  }
}

async function measure(name: string, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 1000; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(44)} p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms  (n=${N})`);
  return xs;
}

const tcp = await KeytapClient.connect({ url: agent.url!, token });
const unix = await KeytapClient.connect({ socketPath: join(dir, 'k.sock') });
// Interleave runs so drift (GC, JIT) hits both sides alike.
const d1 = await measure('direct: FidoClient.getInfo (in-process)', direct);
const a1 = await measure('agent: fido.info over ws://127.0.0.1 (TCP)', () => tcp.fidoInfo(device));
const a2 = await measure('agent: fido.info over the unix socket', () => unix.fidoInfo(device));
const d2 = await measure('direct again', direct);
const d = [...d1, ...d2];
for (const [name, a] of [['TCP', a1], ['unix', a2]] as const) {
  const o50 = pct(a, 50) - pct(d, 50);
  const o99 = pct(a, 99) - pct(d, 99);
  console.log(`overhead (${name}): p50 ${o50.toFixed(3)} ms (goal ≤ 1)  p99 ${o99.toFixed(3)} ms (goal ≤ 3)  ${o50 <= 1 && o99 <= 3 ? 'MEETS GOAL' : 'MISSES GOAL'}`);
}
tcp.close();
unix.close();
await agent.close();
rmSync(dir, { recursive: true, force: true });
