/**
 * The simulator control plane over the agent API (admin role): sim.* methods registered by
 * src/main.ts, faults that end as typed errors at the client while the agent keeps running,
 * and fido.pin.status reporting the virtual key's true state after every fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent, type RunningAgent } from '../../src/main.ts';
import { KeytapClient, KeytapRpcError, readToken } from '../../src/client/keytap-client.ts';
import { createLogger } from '../../src/agent/logger.ts';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';

const KEYTAP = join(import.meta.dirname, '..', '..', 'bin', 'keytap.js');
function keytap(args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [KEYTAP, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KEYTAP_URL: '', KEYTAP_SOCKET: '' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.stdin.end(stdin);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

let running: RunningAgent;
let dir: string;
let admin: KeytapClient;
let client: KeytapClient;
let device: string;
const url = () => `ws://127.0.0.1:${running.agent.addresses!.tcp[0]!.port}/`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keytap-sim-control-'));
  const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  running = await runAgent({
    flags: { listen: ['127.0.0.1:0'], socket: join(dir, 'run', 'keytap.sock'), tokenFile: join(dir, 'run', 'tokens.json'), hid: false, simulate: [''] },
    env: {},
    logger: quiet,
  });
  const tokenFile = running.config.tokenFile;
  admin = await KeytapClient.connect({ url: url(), token: readToken(tokenFile, 'admin') });
  client = await KeytapClient.connect({ url: url(), token: readToken(tokenFile, 'client') });
  device = ((await client.request('devices.list', {})) as { devices: Array<{ id: string }> }).devices[0]!.id;
});

afterAll(async () => {
  admin?.close();
  client?.close();
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

const truth = () => running.simulator!.keys[0]!.authenticator.pinState;
const status = () => client.request('fido.pin.status', { device }) as Promise<{ state: string; retriesLeft: number | null }>;
const fail = (p: Promise<unknown>) => p.then(() => { throw new Error('expected an error'); }, (e: KeytapRpcError) => e);

describe('sim.* over the agent API', () => {
  it('the methods are admin-only and listed in capabilities', async () => {
    expect(admin.info.capabilities.methods).toEqual(expect.arrayContaining(['sim.devices', 'sim.plug', 'sim.unplug', 'sim.powerCycle', 'sim.touch', 'sim.pin.setState', 'sim.fault']));
    const e = await fail(client.request('sim.devices', {}));
    expect(e.code).toBe('FORBIDDEN');
  });

  it('sim.devices names the key by its agent id; sim.pin.setState sets PIN and retries through CTAP', async () => {
    const list = (await admin.request('sim.devices', {})) as { devices: Array<{ device: string; plugged: boolean }> };
    expect(list.devices).toHaveLength(1);
    expect(list.devices[0]).toMatchObject({ device, plugged: true, touch: 'approve' });
    const r = (await admin.request('sim.pin.setState', { device, pin: '4826', retries: 5 })) as { status: { state: string; retriesLeft: number } };
    expect(r.status).toMatchObject({ state: 'ok', retriesLeft: 5 });
    expect(truth()).toMatchObject({ pinSet: true, pinRetries: 5 });
    expect(await status()).toMatchObject({ state: 'ok', retriesLeft: 5 });
  });

  it('unplug / plug: device.detached and device.attached, DEVICE_NOT_FOUND while out', async () => {
    const events = await KeytapClient.connect({ url: url(), token: readToken(running.config.tokenFile, 'client'), subscribe: ['device'] });
    try {
      const detached = new Promise((r) => events.once('device.detached', r));
      await admin.request('sim.unplug', { device });
      expect(await detached).toMatchObject({ device: { id: device } });
      expect((await fail(status())).code).toBe('DEVICE_NOT_FOUND');
      const attached = new Promise((r) => events.once('device.attached', r));
      await admin.request('sim.plug', { device });
      await attached;
      expect(await status()).toMatchObject({ state: 'ok', retriesLeft: 5 });
    } finally {
      events.close();
    }
  });

  it.each([
    ['disconnect', { kind: 'disconnect', atMessage: 1 }, 'DEVICE_REMOVED'],
    ['disconnect after processing', { kind: 'disconnect', atMessage: 1, phase: 'after' }, 'DEVICE_REMOVED'],
    ['corrupt frame', { kind: 'corrupt' }, 'PROTOCOL_ERROR'],
    ['stalled keepalives', { kind: 'stall', keepalives: 'forever' }, 'TIMEOUT'],
    ['CHANNEL_BUSY', { kind: 'busy', ms: 60_000 }, 'DEVICE_BUSY'],
    ['slow device', { kind: 'slow', delayMs: 5_000 }, 'TIMEOUT'],
  ])('fault %s: a typed error at the client, the agent keeps running, then fido.pin.status tells the truth', async (_n, fault, code) => {
    await admin.request('sim.fault', { device, ...fault });
    const e = await fail(client.request('fido.pin.status', { device, timeoutMs: 800 }));
    expect(e).toBeInstanceOf(KeytapRpcError);
    expect(e.code).toMatch(new RegExp(`^(${code})$`));
    await admin.request('sim.fault', { device, kind: 'clear' });
    const list = (await admin.request('sim.devices', {})) as { devices: Array<{ plugged: boolean }> };
    if (!list.devices[0]!.plugged) await admin.request('sim.plug', { device });
    const s = await status();
    expect(s).toMatchObject({ state: truth().pinSet ? 'ok' : 'no-pin', retriesLeft: truth().pinRetries });
  });

  it('a disconnect in the middle of a PIN change leaves the state the key really has', async () => {
    // message 3 of changePin is getKeyAgreement (after getInfo and getPINRetries): the change never happens
    await admin.request('sim.fault', { device, kind: 'disconnect', atMessage: 3 });
    const e = await fail(client.request('fido.pin.change', { device, currentPin: '4826', newPin: '739105' }));
    expect(e.code).toBe('DEVICE_REMOVED');
    await admin.request('sim.plug', { device });
    expect(await status()).toMatchObject({ state: 'ok', retriesLeft: truth().pinRetries });
    expect(truth().pinRetries).toBe(5);
  });

  it('sim.touch deny once: the next reset is denied (OPERATION_DENIED), the one after is approved', async () => {
    await admin.request('sim.powerCycle', { device });
    await admin.request('sim.touch', { device, mode: 'deny' });
    expect((await fail(admin.request('fido.reset', { device }))).code).toBe('OPERATION_DENIED');
    await admin.request('sim.powerCycle', { device });
    expect(await admin.request('fido.reset', { device })).toMatchObject({ state: 'no-pin' });
    expect(truth().pinSet).toBe(false);
  });

  it('rejects unknown devices and invalid faults with typed errors', async () => {
    expect((await fail(admin.request('sim.plug', { device: 'fido-000000000000' }))).code).toBe('DEVICE_NOT_FOUND');
    expect((await fail(admin.request('sim.fault', { device, kind: 'melt' }))).rpcCode).toBe(-32602);
    expect((await fail(admin.request('sim.plug', { device }))).code).toBe('SIM_STATE');
  });

  it('keytap sim (CLI) drives the same methods with the admin token: pin-state from stdin, fault, devices', async () => {
    const base = ['--url', url(), '--token-file', running.config.tokenFile, '--device', device];
    const set = await keytap(['sim', 'pin-state', '--retries', '6', ...base], '4826\n');
    expect(set.err).toBe('');
    expect(JSON.parse(set.out)).toMatchObject({ status: { state: 'ok', retriesLeft: 6 } });
    expect(truth().pinRetries).toBe(6);
    const f = await keytap(['sim', 'fault', 'busy', '--ms', '100', ...base]);
    expect(JSON.parse(f.out)).toMatchObject({ fault: { kind: 'busy', ms: 100 } });
    const d = await keytap(['sim', 'devices', '--url', url(), '--token-file', running.config.tokenFile]);
    expect(JSON.parse(d.out).devices[0]).toMatchObject({ device, pin: { pinRetries: 6 } });
    await admin.request('sim.fault', { device, kind: 'clear' });
    const bad = await keytap(['sim', 'touch', 'maybe', ...base]);
    expect(bad.code).toBe(64);
  });
});
