/**
 * `keytap doctor` on this machine: the real command, the real pcscd, a real agent
 * (`keytap serve` on a temp socket and port 0), real files and modes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcscdProbe, requireService } from '../helpers/services.ts';

const BIN = join(import.meta.dirname, '../../bin/keytap.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keytap(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Report {
  schema: string;
  ok: boolean;
  exitCode: number;
  counts: { ok: number; warn: number; fail: number };
  checks: Array<{ id: string; title: string; status: string; summary: string; details: string[]; fix: string[] }>;
}

function parse(run: Run): Report {
  try {
    return JSON.parse(run.stdout) as Report;
  } catch (e) {
    throw new Error(`keytap doctor --json printed no JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`, { cause: e });
  }
}

const gate = await requireService('pcscd', pcscdProbe);

describe('keytap doctor --json (this machine)', () => {
  let full: Run;
  beforeAll(async () => {
    full = await keytap(['doctor', '--json']);
    // Other suites (the pcsc integration test) kill and restart the shared pcscd; if that
    // happened during our run, wait for pcscd to be back and run once more.
    if (!gate.skip && parse(full).checks.find((c) => c.id === 'pcscd')?.status !== 'ok') {
      for (let i = 0; i < 50 && (await pcscdProbe()) !== null; i++) await new Promise((r) => setTimeout(r, 100));
      full = await keytap(['doctor', '--json']);
    }
  });

  it('prints a keytap.doctor/1 report whose exit code is 1 exactly when a check failed', () => {
    const r = parse(full);
    expect(r.schema).toBe('keytap.doctor/1');
    expect(r.checks.map((c) => c.id)).toEqual(['node', 'pcscd', 'pcsc-readers', 'fido-hid', 'serial', 'agent', 'vpcd']);
    for (const c of r.checks) {
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(typeof c.summary).toBe('string');
      expect(c.summary.length).toBeGreaterThan(0);
      expect(Array.isArray(c.details) && Array.isArray(c.fix)).toBe(true);
      // Anything not ok says what to do.
      if (c.status !== 'ok') expect(c.fix.length).toBeGreaterThan(0);
    }
    const fails = r.checks.filter((c) => c.status === 'fail').length;
    expect(r.counts.fail).toBe(fails);
    expect(r.exitCode).toBe(fails ? 1 : 0);
    expect(full.code).toBe(r.exitCode);
  });

  it('enumerates HID through node-hid without error', () => {
    const hid = parse(full).checks.find((c) => c.id === 'fido-hid')!;
    expect(hid.summary).not.toMatch(/cannot enumerate|the check itself failed/);
    // environment.md: this machine has no /dev/hidraw*, so no keys.
    if (!readdirSync('/dev').some((n) => n.startsWith('hidraw'))) expect(hid).toMatchObject({ status: 'ok', summary: 'no FIDO HID keys plugged in' });
  });

  it('finds Node and the native modules loading (this machine has libusb and libpcsclite)', () => {
    const node = parse(full).checks.find((c) => c.id === 'node')!;
    expect(node.status).toBe('ok');
    expect(node.summary).toContain(process.versions.node);
  });

  describe.skipIf(gate.skip)('with pcscd running', () => {
    it('reports pcscd ok and lists the vpcd readers', () => {
      const r = parse(full);
      const pcscd = r.checks.find((c) => c.id === 'pcscd')!;
      expect(pcscd.status).toBe('ok');
      expect(pcscd.summary).toBe('pcscd running (/run/pcscd/pcscd.comm)');
      const readers = r.checks.find((c) => c.id === 'pcsc-readers')!;
      expect(readers.summary).toContain('Virtual PCD 00 00');
    });

    it('warns that vpcd listens on 0.0.0.0 (environment.md) without failing the run', () => {
      const vpcd = parse(full).checks.find((c) => c.id === 'vpcd')!;
      expect(vpcd.status).toBe('warn');
      expect(vpcd.summary).toContain('0.0.0.0:35963');
    });
  });

  it('fails the pcscd check and exits 1 when PCSCLITE_CSOCK_NAME points nowhere', async () => {
    const run = await keytap(['doctor', '--json', '--only', 'pcscd'], { PCSCLITE_CSOCK_NAME: '/nonexistent/pcscd.comm' });
    const r = parse(run);
    expect(run.code).toBe(1);
    expect(r.checks).toHaveLength(1);
    expect(r.checks[0]!.status).toBe('fail');
    expect(r.checks[0]!.summary).toContain('/nonexistent/pcscd.comm');
  });

  it('fails the pcscd check on a stale socket nobody listens on (pcsclite throws synchronously)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-doctor-stale-'));
    try {
      const stale = join(dir, 'pcscd.comm');
      // A unix socket file whose owner is gone: bind, then exit without unlinking.
      await new Promise<void>((resolve, reject) => {
        const py = spawn('/usr/bin/python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`], { stdio: 'ignore' });
        py.once('error', reject);
        py.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}`))));
      });
      const run = await keytap(['doctor', '--json', '--only', 'pcscd', 'pcsc-readers'], { PCSCLITE_CSOCK_NAME: stale });
      const r = parse(run);
      expect(run.code).toBe(1);
      const pcscd = r.checks.find((c) => c.id === 'pcscd')!;
      expect(pcscd.status).toBe('fail');
      expect(pcscd.summary).toMatch(/does not answer.*0x8010001d/);
      expect(r.checks.find((c) => c.id === 'pcsc-readers')!.status).toBe('warn');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints one [ok]/[warn]/[fail] line per check in text mode', async () => {
    const run = await keytap(['doctor', '--only', 'node', 'vpcd']);
    const lines = run.stdout.split('\n').filter((l) => /^\[(ok|warn|fail)\]/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[ok\] {3}Node\.js and native modules: node /);
    expect(run.stdout).toMatch(/\d+ checks? ok, \d+ warnings?, \d+ failures?\n$/);
  });
});

describe('keytap doctor against a running agent', () => {
  let dir: string;
  let agent: ChildProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keytap-doctor-'));
    const sock = join(dir, 'keytap.sock');
    const tokens = join(dir, 'tokens.json');
    agent = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--socket', sock, '--token-file', tokens, '--no-hid', '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      agent.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m && err.includes('keytap ready')) resolve(Number(m[1]));
      });
      agent.once('exit', (code) => reject(new Error(`keytap serve exited ${code}: ${err}`)));
    });
    env = { KEYTAP_SOCKET: sock, KEYTAP_TOKEN_FILE: tokens, KEYTAP_LISTEN: `127.0.0.1:${port}` };
  });

  afterAll(() => {
    agent?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the agent on its socket and TCP port, with a private token file', async () => {
    const run = await keytap(['doctor', '--json', '--only', 'agent'], env);
    const c = parse(run).checks[0]!;
    expect(c.status).toBe('ok');
    expect(c.summary).toBe(`agent listening on ${env.KEYTAP_SOCKET} and ${env.KEYTAP_LISTEN}`);
    expect(c.details.join('\n')).toContain(`token file ${env.KEYTAP_TOKEN_FILE}: 0600`);
    expect(run.code).toBe(0);
  });

  it('fails and exits 1 once the token file is world-readable, without printing a token', async () => {
    chmodSync(env.KEYTAP_TOKEN_FILE!, 0o644);
    const run = await keytap(['doctor', '--json', '--only', 'agent'], env);
    const c = parse(run).checks[0]!;
    expect(run.code).toBe(1);
    expect(c.status).toBe('fail');
    expect(c.fix.join('\n')).toContain(`chmod 600 ${env.KEYTAP_TOKEN_FILE}`);
    expect(run.stdout).not.toMatch(/"token"\s*:/);
  });
});
