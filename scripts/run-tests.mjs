#!/usr/bin/env node
// Runs the whole vitest suite and prints the plain closing line CI reads:
// "N passed, N failed, N skipped" (test cases, from vitest's JSON results).
// Exits non-zero when any test or test file failed, or when no test ran.
//
// Test files that use the machine's one pcscd (they call `pcscdProbe`) share vpcd's two
// ports, and one of them kills and restarts pcscd; they run in a second pass, one file at a
// time, after the parallel pass over everything else.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const extra = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'keytap-test-'));

function listTests(d, out = []) {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) listTests(p, out);
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function runVitest(name, args) {
  const out = join(dir, `${name}.json`);
  return new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...args], {
      stdio: 'inherit',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      cwd: root,
    });
    child.on('exit', (code, signal) => {
      const r = { passed: 0, failed: 0, skipped: 0, ok: code === 0 && !signal };
      try {
        const j = JSON.parse(readFileSync(out, 'utf8'));
        r.passed = j.numPassedTests ?? 0;
        r.failed = j.numFailedTests ?? 0;
        r.skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
        // A file that fails to load (or throws in a strict service gate) has no failed test
        // case; count it as one failure so it cannot pass silently.
        for (const f of j.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed')) r.failed++;
      } catch (e) {
        console.error(`could not read vitest results (${name}): ${e.message}`);
        r.failed++;
      }
      resolve(r);
    });
  });
}

const all = listTests(join(root, 'test'));
const serial = all.filter((f) => /pcscdProbe/.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
const passes = [];
if (extra.length > 0) {
  passes.push(await runVitest('selected', extra));
} else {
  passes.push(await runVitest('parallel', serial.flatMap((f) => ['--exclude', f])));
  if (serial.length) passes.push(await runVitest('pcscd', ['--no-file-parallelism', ...serial]));
}
rmSync(dir, { recursive: true, force: true });

const sum = passes.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped, ok: a.ok && r.ok }), { passed: 0, failed: 0, skipped: 0, ok: true });
const line = sum.skipped > 0 ? `${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped` : `${sum.passed} passed, ${sum.failed} failed`;
console.log(line);
process.exit(sum.failed === 0 && sum.passed > 0 && sum.ok ? 0 : 1);
