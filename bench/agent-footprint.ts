/**
 * The agent's footprint as a process (`keytap serve --simulate --simulate solo-1`): start to
 * ready (spawn → the `keytap ready` line, which includes Node start and the TypeScript loader,
 * and in-process `runAgent` alone), RSS after start, and CPU used while idle for DURATION seconds
 * with devices attached and one subscribed client connected (no busy polling: USB hotplug
 * polling is on unless --no-hid is passed below). Goals: idle CPU ≤ 0.5 %, RSS ≤ 80 MB,
 * start to ready ≤ 500 ms.
 *
 *   npx tsx bench/agent-footprint.ts [DURATION=60] [--no-hid]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeytapClient } from '../src/client/keytap-client.ts';
import { runAgent } from '../src/main.ts';
import { createLogger } from '../src/agent/logger.ts';

const DURATION = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 60);
const hidFlag = process.argv.includes('--no-hid') ? ['--no-hid'] : [];
const dir = mkdtempSync(join(tmpdir(), 'keytap-bench-'));
const bin = new URL('../bin/keytap.js', import.meta.url).pathname;
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

// In-process: runAgent alone (config, token file, listeners, simulated keys, readers).
{
  const t0 = performance.now();
  const r = await runAgent({ flags: { listen: ['127.0.0.1:0'], socket: join(dir, 'inproc', 'k.sock'), simulate: ['', 'solo-1'], hid: false, readers: { pcsc: false } } as never, env: {}, logger: createLogger({ level: 'silent' }) });
  console.log(`runAgent (in-process, modules already loaded): ready in ${(performance.now() - t0).toFixed(1)} ms`);
  await r.close();
}

const t0 = performance.now();
const child = spawn(process.execPath, [bin, 'serve', '--simulate', '--simulate', 'solo-1', '--listen', '127.0.0.1:0', '--socket', join(dir, 'k.sock'), '--token-file', join(dir, 'tokens.json'), '--log-level', 'warn', ...hidFlag], { stdio: ['ignore', 'ignore', 'pipe'] });
let err = '';
await new Promise<void>((resolve, reject) => {
  child.stderr!.on('data', (d) => {
    err += d;
    if (/^keytap ready$/m.test(err)) resolve();
  });
  child.once('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
});
const ready = performance.now() - t0;
console.log(`keytap serve: spawn → "keytap ready" ${ready.toFixed(0)} ms (goal ≤ 500; includes Node start, and the tsx loader when dist/ is older than src/)`);
const client = await KeytapClient.connect({ socketPath: join(dir, 'k.sock'), subscribe: 'all' });
const devices = (await client.devicesList()).devices;
console.log(`devices attached: ${devices.length} (${devices.map((d) => d.kind).join(', ')}); hid polling ${hidFlag.length ? 'off' : 'on'}`);
await new Promise((r) => setTimeout(r, 15_000)); // let start-up work settle (V8 shrinks the heap after start: GCs, RSS drop)
const rss0 = rssMb(child.pid!);
const c0 = cpuTicks(child.pid!);
const w0 = performance.now();
await new Promise((r) => setTimeout(r, DURATION * 1000));
const cpuPct = ((cpuTicks(child.pid!) - c0) / CLK_TCK / ((performance.now() - w0) / 1000)) * 100;
const rss1 = rssMb(child.pid!);
console.log(`idle ${DURATION} s: CPU ${cpuPct.toFixed(2)} % (goal ≤ 0.5)  RSS ${rss0.toFixed(1)} → ${rss1.toFixed(1)} MB (goal ≤ 80)`);
client.close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
