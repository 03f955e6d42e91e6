/**
 * The technician CLI in direct mode, as a user runs it: `node bin/keytap.js pin …` child
 * processes against `keytap simulate --udp 127.0.0.1:0` over real UDP. Asserts exit codes,
 * output, and that no PIN ever appears in stdout or stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { spawnSimulator, repoRoot, type SimulatorProcess } from '../interop/spawn-simulator.ts';

const PIN = '4826xq';
const NEW_PIN = 'n3wP1n!';
const WRONG = 'wr0ngPIN';
const SECRETS = [PIN, NEW_PIN, WRONG];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keytap(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'keytap.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, KEYTAP_PIN: undefined, KEYTAP_NEW_PIN: undefined, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      for (const s of SECRETS) {
        if (stdout.includes(s) || stderr.includes(s)) reject(new Error(`a PIN appeared in the output of keytap ${args.join(' ')}`));
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

describe('keytap pin / reset CLI against the UDP simulator (exit codes: docs/pin-management.md)', () => {
  let sim: SimulatorProcess;
  let dev: string[];
  const powerCycle = async (): Promise<void> => {
    const seen = (sim.stderr().match(/power cycle/g) ?? []).length;
    sim.child.kill('SIGUSR1');
    for (let i = 0; i < 300 && (sim.stderr().match(/power cycle/g) ?? []).length === seen; i++) await new Promise((r) => setTimeout(r, 10));
  };
  beforeAll(async () => {
    sim = await spawnSimulator();
    dev = ['--device', `udp://${sim.host}:${sim.port}`];
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('pin status on a fresh key: not set, exit 0, says how to set one', async () => {
    const r = await keytap(['pin', 'status', ...dev]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('PIN: not set.');
    expect(r.stdout).toContain('keytap pin set');
  });

  it('pin set --pin-stdin: verified, 8 of 8 attempts; a policy violation exits 5 before anything is sent', async () => {
    const bad = await keytap(['pin', 'set', ...dev, '--pin-stdin', '--json'], { stdin: '12\n' });
    expect(bad.code).toBe(5);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 'PIN_POLICY_VIOLATION', details: { rule: 'min-length' } } });
    const r = await keytap(['pin', 'set', ...dev, '--pin-stdin'], { stdin: `${PIN}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('8 of 8 attempts left');
  });

  it('wrong PINs: exit 2 with attempts left (7, 6), the 3rd in a row exits 3 (re-insert), JSON carries retriesLeft', async () => {
    const a = await keytap(['pin', 'verify', ...dev, '--pin-stdin', '--json'], { stdin: `${WRONG}\n` });
    expect(a.code).toBe(2);
    expect(JSON.parse(a.stdout)).toMatchObject({ ok: false, error: { code: 'PIN_INVALID', details: { retriesLeft: 7 } } });
    const b = await keytap(['pin', 'verify', ...dev], { env: { KEYTAP_PIN: WRONG } });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('6 attempts left');
    const c = await keytap(['pin', 'verify', ...dev, '--pin-stdin'], { stdin: `${WRONG}\n` });
    expect(c.code).toBe(3);
    expect(c.stderr).toMatch(/re-insert/i);
    const s = await keytap(['pin', 'status', ...dev, '--json']);
    expect(JSON.parse(s.stdout)).toMatchObject({ ok: true, pinStatus: { state: 'soft-blocked', retriesLeft: 5 } });
  });

  it('after a power cycle: change PIN via --pin-stdin (current, then new) → verified, 8 attempts', async () => {
    await powerCycle();
    const r = await keytap(['pin', 'change', ...dev, '--pin-stdin'], { stdin: `${PIN}\n${NEW_PIN}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('PIN changed and verified.');
    expect(r.stdout).toContain('8 of 8 attempts left');
  });

  it('a PIN passed as an argument works but warns on stderr', async () => {
    const r = await keytap(['pin', 'verify', ...dev, '--pin', NEW_PIN]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    // the PIN is in argv, not in the output: the secret check above still applies to the output
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: a PIN given as an argument');
  });

  it('no such device exits 6', async () => {
    const r = await keytap(['pin', 'status', '--device', 'NO-SUCH-SERIAL']);
    expect(r.code).toBe(6);
  });

  it('reset: refused without a terminal or --yes (exit 7); with --yes inside the window → no PIN', async () => {
    const no = await keytap(['reset', ...dev]);
    expect(no.code).toBe(7);
    expect(no.stderr).toContain('erases every credential');
    await powerCycle();
    const r = await keytap(['reset', ...dev, '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, pinStatus: { state: 'no-pin', retriesLeft: null } });
  });
});
