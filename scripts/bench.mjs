#!/usr/bin/env node
// Runs the benchmarks in bench/ (each a standalone TypeScript program that prints its own
// table), one after another; files starting with `_` are helper processes, not benchmarks. `npm run bench -- agent` runs only files whose name contains "agent".
// Benchmarks report figures and ratios; nothing here asserts on time.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const dir = new URL('../bench/', import.meta.url).pathname;
const filter = process.argv[2] ?? '';
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.startsWith('_') && f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`no benchmark matches "${filter}"`);
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
