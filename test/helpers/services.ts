/**
 * Service gates for tests that need something from the machine (pcscd, python3-fido2, a
 * C compiler with libfido2, socat, chromium). On a developer's machine a missing service
 * skips the test with a printed reason; under `KEYTAP_CI_STRICT=1` (set by .ci/run) the same
 * check fails instead, so nothing real is silently skipped in CI.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';

export const strict = process.env.KEYTAP_CI_STRICT === '1';

/** Result of a service probe: null when available, else the reason it is missing. */
export type Probe = () => string | null | Promise<string | null>;

/**
 * Returns `{ skip, reason }` for `describe.skipIf(gate.skip)`. In strict mode a missing
 * service throws at collection time, which vitest reports as a failed file.
 */
export async function requireService(name: string, probe: Probe): Promise<{ skip: boolean; reason: string | null }> {
  const reason = await probe();
  if (reason === null) return { skip: false, reason: null };
  const msg = `[keytap tests] ${name} unavailable: ${reason}`;
  if (strict) throw new Error(`${msg} (KEYTAP_CI_STRICT=1 turns this skip into a failure)`);
  console.warn(`${msg}; skipping`);
  return { skip: true, reason };
}

/** Probe: an executable file exists. */
export function hasFile(path: string): Probe {
  return () => (existsSync(path) ? null : `${path} not found`);
}

/** Probe: a command runs and exits 0. */
export function runs(cmd: string, args: string[]): Probe {
  return () => {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return r.status === 0 ? null : `\`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? 'exit ' + r.status})`;
  };
}

/** Probe: /usr/bin/python3 can import a module (Debian's python, not pyenv's). */
export function pythonModule(mod: string): Probe {
  return runs('/usr/bin/python3', ['-c', `import ${mod}`]);
}

/** Probe: a TCP port on 127.0.0.1 accepts connections (pcscd's vpcd listens on 35963). */
export function tcpListening(port: number, host = '127.0.0.1'): Probe {
  return () =>
    new Promise((resolve) => {
      const s = createConnection({ port, host });
      const done = (r: string | null): void => {
        s.destroy();
        resolve(r);
      };
      s.once('connect', () => done(null));
      s.once('error', (e) => done(`nothing listens on ${host}:${port} (${e.message})`));
      setTimeout(() => done(`timeout connecting to ${host}:${port}`), 2000).unref();
    });
}

/** Probe: pcscd is up (its socket exists and vpcd listens). */
export const pcscdProbe: Probe = async () => {
  if (!existsSync('/run/pcscd/pcscd.comm')) return 'pcscd is not running (/run/pcscd/pcscd.comm missing); start it with `pcscd -f -e &`';
  return tcpListening(35963)();
};
