/**
 * The real DoctorEnv on real files, sockets and /proc; node-hid is the one mock (no HID on this
 * machine, environment.md), at the module boundary H3's enumerator imports.
 */
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createNodeDoctorEnv } from '../../../src/cli/doctor/node-doctor-env.ts';
import { Deadline } from '../../../src/util/deadline.ts';

const hidDevices = [
  { path: '/dev/hidraw7', vendorId: 0x1050, productId: 0x0407, product: 'YubiKey OTP+FIDO+CCID', usagePage: 0xf1d0, usage: 1 },
  { path: '/dev/hidraw8', vendorId: 0x046d, productId: 0xc52b, product: 'USB Receiver', usagePage: 0x0001, usage: 2 },
];
vi.mock('node-hid', () => {
  const api = { devices: () => hidDevices, devicesAsync: async () => hidDevices, HIDAsync: class {} };
  return { ...api, default: api };
});

const io = () => ({ signal: new AbortController().signal, deadline: Deadline.in(3000) });

describe('createNodeDoctorEnv (the real machine behind the checks)', () => {
  let dir: string;
  let server: Server;
  let port: number;
  const env = createNodeDoctorEnv({ HOME: '/nowhere' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keytap-doctor-env-'));
    writeFileSync(join(dir, 'tokens.json'), '{}');
    chmodSync(join(dir, 'tokens.json'), 0o600);
    server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('stats files with kind, permission bits and owner; null when missing', async () => {
    expect(await env.stat(join(dir, 'tokens.json'))).toEqual({ kind: 'file', mode: 0o600, uid: process.getuid!(), gid: process.getgid!() });
    expect((await env.stat(dir))?.kind).toBe('dir');
    expect(await env.stat(join(dir, 'absent'))).toBeNull();
    expect(await env.list(dir)).toEqual(['tokens.json']);
    expect(await env.list(join(dir, 'absent'))).toBeNull();
    expect(await env.readText(join(dir, 'tokens.json'))).toBe('{}');
  });

  it('connects over TCP and sees the listener in /proc/net/tcp on its address', async () => {
    expect(await env.connectTcp('127.0.0.1', port, io())).toEqual({ ok: true });
    expect(await env.tcpListeners()).toContainEqual({ address: '127.0.0.1', port });
    const closed = await env.connectUnix(join(dir, 'no.sock'), io());
    expect(closed).toEqual({ ok: false, code: 'ENOENT' });
  });

  it('runs programs, and returns null for one that is not installed', async () => {
    const r = await env.run(process.execPath, ['-e', 'process.stdout.write("hi")'], io());
    expect(r).toEqual({ status: 0, stdout: 'hi', stderr: '' });
    expect(await env.run('/nonexistent/keytap-no-such-tool', [], io())).toBeNull();
  });

  it('lists its own process', async () => {
    const me = (await env.processes()).find((p) => p.pid === process.pid);
    expect(me?.cmdline).toContain('node');
  });

  it('filters HID devices to the FIDO usage page (0xF1D0) through the drivers enumerator', async () => {
    const r = await env.fidoHidDevices(io());
    expect(r.ok).toBe(true);
    expect(r.ok && r.devices.map((d) => d.path)).toEqual(['/dev/hidraw7']);
  });

  it('reports a module that does not load, with its message', async () => {
    expect(await env.loadModule('keytap-no-such-module')).toMatch(/keytap-no-such-module/);
  });
});
