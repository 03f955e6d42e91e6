#!/usr/bin/env node
// Runs the whole vitest suite and prints the plain closing line CI reads:
// "N passed, N failed, N skipped" (test cases, from vitest's JSON results).
// Exits non-zero when any test or test file failed, or when no test ran.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'keytap-test-'));
const out = join(dir, 'results.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: 'inherit', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
child.on('exit', (code, signal) => {
  let passed = 0, failed = 0, skipped = 0, fileFailures = 0;
  try {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    passed = r.numPassedTests ?? 0;
    failed = r.numFailedTests ?? 0;
    skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // A file that fails to load (or throws in a strict service gate) has no test cases;
    // count it as one failure so it cannot pass silently.
    for (const f of r.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed')) fileFailures++;
  } catch (e) {
    console.error(`could not read vitest results: ${e.message}`);
    fileFailures++;
  }
  rmSync(dir, { recursive: true, force: true });
  failed += fileFailures;
  const line = skipped > 0 ? `${passed} passed, ${failed} failed, ${skipped} skipped` : `${passed} passed, ${failed} failed`;
  console.log(line);
  const ok = failed === 0 && passed > 0 && code === 0 && !signal;
  process.exit(ok ? 0 : 1);
});
