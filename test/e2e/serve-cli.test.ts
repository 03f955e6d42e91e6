/**
 * `keytap serve` as a process (DESIGN.md §8): prints the WebSocket URL, the socket and the token
 * file (never a token) and `keytap ready`; a client connects with the printed token file; the
 * token file is created 0600 in a 0700 directory; SIGTERM stops it cleanly and removes the socket;
 * a non-loopback --listen is refused at start with the key named.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeytapClient } from '../../src/client/keytap-client.ts';

const bin = new URL('../../bin/keytap.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function serve(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; ready: Promise<string>; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stdout!.resume();
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
      if (/^keytap ready$/m.test(stderr)) resolve(stderr);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  ready.catch(() => undefined);
  return { child, ready, exited };
}

describe('keytap serve', () => {
  it('prints how to connect, creates the token file privately, serves a simulated key, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-serve-'));
    dirs.push(dir);
    const run = join(dir, 'run');
    // --no-pcsc: other suites present NFC keys on the shared pcscd, which would be listed as authenticators too.
    const s = serve(['--simulate', '--listen', '127.0.0.1:0', '--no-hid', '--no-pcsc', '--log-level', 'warn'], { XDG_RUNTIME_DIR: run, RUNTIME_DIRECTORY: '' });
    const out = await s.ready;
    const url = /websocket:\s+(ws:\/\/\S+)/.exec(out)?.[1];
    const socket = /^\s+socket:\s+(\S+)/m.exec(out)?.[1];
    const tokenFile = /token file:\s+(\S+)/.exec(out)?.[1];
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(socket).toBe(join(run, 'keytap', 'keytap.sock'));
    expect(tokenFile).toBe(join(run, 'keytap', 'tokens.json'));
    expect(statSync(tokenFile!).mode & 0o777).toBe(0o600);
    expect(statSync(join(run, 'keytap')).mode & 0o777).toBe(0o700);
    for (const t of JSON.parse(readFileSync(tokenFile!, 'utf8')).tokens) expect(out).not.toContain(t.token);

    const c = await KeytapClient.connect({ url: url!, tokenFile: tokenFile! });
    // --simulate also adds a virtual badge reader: count keys only.
    const all = (await c.devicesList()).devices;
    expect(all.some((d) => d.kind === 'reader' && d.transport === 'virtual')).toBe(true);
    const devices = all.filter((d) => d.kind === 'authenticator');
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ kind: 'authenticator', simulated: true, profile: 'yubikey-5-nfc-5.7' });
    expect(await c.pinStatus(devices[0].id)).toMatchObject({ state: 'no-pin' });
    c.close();
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(existsSync(socket!)).toBe(false);
  });

  it('refuses a non-loopback --listen at start, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-serve-'));
    dirs.push(dir);
    const s = serve(['--listen', '0.0.0.0:7391', '--socket', join(dir, 's.sock'), '--no-hid'], { XDG_RUNTIME_DIR: dir });
    const r = await s.exited;
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/listen: refusing non-loopback address "0\.0\.0\.0:7391"/);
  });

  it('names a bad key of the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-serve-'));
    dirs.push(dir);
    const file = join(dir, 'keytap.json');
    (await import('node:fs')).writeFileSync(file, JSON.stringify({ limits: { maxPendingRequest: 3 } }));
    const s = serve(['--config', file, '--socket', join(dir, 's.sock'), '--listen', '127.0.0.1:0', '--no-hid'], { XDG_RUNTIME_DIR: dir });
    const r = await s.exited;
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('unknown key "limits.maxPendingRequest"');
  });
});
