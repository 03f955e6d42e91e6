/**
 * Starts `node bin/keytap.js simulate --udp 127.0.0.1:0 …` as a child process and resolves
 * with the port from its `listening udp HOST:PORT` line (the contract HIL scripts rely on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface SimulatorProcess {
  child: ChildProcess;
  host: string;
  port: number;
  /** stderr so far (for failure messages). */
  stderr(): string;
  /** SIGTERM, then waits for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function spawnSimulator(extraArgs: string[] = [], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {}): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'keytap.js'), 'simulate', '--udp', '127.0.0.1:0', ...extraArgs], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simulator did not print "listening udp" within ${options.timeoutMs ?? 20000} ms; stderr: ${err}`));
    }, options.timeoutMs ?? 20_000);
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /^listening udp (\S+):(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          host: m[1]!,
          port: Number(m[2]),
          stderr: () => err,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited with ${code} before listening; stderr: ${err}`));
    });
  });
}

/** The interop harnesses print one JSON object per step (`{"step": NAME, ...}`); keyed by name. */
export function parseSteps(stdout: string): Record<string, any> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: string })
      .map((s) => [s.step, s]),
  );
}
