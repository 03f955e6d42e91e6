/** Builds test/interop/libfido2-udp.c with cc + pkg-config into `dir`; returns the binary path. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { repoRoot } from './spawn-simulator.ts';

const run = promisify(execFile);

export async function buildLibfido2Harness(dir: string): Promise<string> {
  const flags = (await run('pkg-config', ['--cflags', '--libs', 'libfido2'])).stdout.trim().split(/\s+/).filter(Boolean);
  const out = join(dir, 'libfido2-udp');
  await run('cc', ['-O2', '-Wall', '-o', out, join(repoRoot, 'test/interop/libfido2-udp.c'), ...flags], { timeout: 60_000 });
  return out;
}
