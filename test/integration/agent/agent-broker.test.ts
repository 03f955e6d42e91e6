/**
 * The agent over real sockets with a fake authenticator (DESIGN.md §5): every core method,
 * device events, progress with the request id, cancellation, per-device FIFO queueing of two
 * clients, and a disconnect in the middle of an operation cancelling it on the key.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKey, FakeProvider } from './fake-authenticator.ts';
import { startTestAgent, until, type TestAgent, rpcError } from './helpers.ts';
import { KeytapRpcError, KeytapClient } from '../../../src/client/keytap-client.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';
import { toBase64Url } from '../../../src/util/bytes.ts';

let t: TestAgent;
let provider: FakeProvider;
let key: FakeKey;
let id: string;

beforeEach(async () => {
  t = await startTestAgent();
  provider = new FakeProvider();
  key = new FakeKey('AAA');
  provider.plug(key);
  await t.agent.addProvider(provider);
  id = deviceIdFor('authenticator', 'fake', 'AAA');
});
afterEach(async () => {
  await t.close();
});

describe('initialize and devices (DESIGN.md §5)', () => {
  it('initialize returns version, protocol version, capabilities with every core method, and the role', async () => {
    const c = await t.connect();
    expect(c.info.version).toBe('0.1.0-test');
    expect(c.info.role).toBe('client');
    for (const m of ['devices.list', 'fido.info', 'fido.pin.status', 'fido.pin.set', 'fido.pin.change', 'fido.pin.verify', 'fido.reset', 'fido.makeCredential', 'fido.getAssertion', 'fido.wink', 'events.subscribe', 'events.unsubscribe', '$/cancelRequest']) {
      expect(c.info.capabilities.methods).toContain(m);
    }
    expect(c.info.capabilities.topics).toEqual(['device', 'card', 'fido', 'request']);
  });

  it('devices.list shows current devices with a stable id derived from the key, not a path', async () => {
    const c = await t.connect();
    const { devices } = await c.devicesList();
    expect(devices).toEqual([{ id, kind: 'authenticator', transport: 'virtual', name: 'Fake Key AAA', simulated: true }]);
    expect(id).toMatch(/^fido-[0-9a-f]{12}$/);
  });

  it('the same key gets the same id after unplug and replug', async () => {
    const c = await t.connect({ subscribe: ['device'] });
    const detached = new Promise((r) => c.once('device.detached', r));
    provider.unplug('AAA');
    expect(await detached).toEqual({ device: expect.objectContaining({ id }) });
    const attached = new Promise((r) => c.once('device.attached', r));
    provider.plug(key);
    expect(await attached).toEqual({ device: expect.objectContaining({ id }) });
  });

  it('device.changed when a provider re-announces a present device', async () => {
    const c = await t.connect({ subscribe: 'all' });
    const changed = new Promise((r) => c.once('device.changed', r));
    provider.plug(key, 'Renamed Key');
    expect(await changed).toEqual({ device: expect.objectContaining({ id, name: 'Renamed Key' }) });
  });

  it('events only reach subscribers of the topic, and unsubscribe stops them', async () => {
    const sub = await t.connect({ subscribe: ['device'] });
    const other = await t.connect({ subscribe: ['fido'] });
    const seen: string[] = [];
    other.on('notification', (m) => seen.push(m));
    const got = new Promise((r) => sub.once('device.attached', r));
    provider.plug(new FakeKey('BBB'));
    await got;
    expect(seen).toEqual([]);
    expect((await sub.unsubscribe(['device'])).topics).toEqual([]);
    const late: string[] = [];
    sub.on('notification', (m) => late.push(m));
    provider.plug(new FakeKey('CCC'));
    await sub.devicesList(); // a round trip after the plug: any notification would have arrived first
    expect(late).toEqual([]);
  });
});

describe('fido methods', () => {
  it('fido.info converts CBOR maps to objects and byte strings to base64url', async () => {
    const c = await t.connect();
    const info = await c.fidoInfo(id);
    expect(info).toEqual({ '1': ['FIDO_2_0', 'FIDO_2_1'], '3': toBase64Url(new Uint8Array(16).fill(0xab)), '4': { clientPin: false } });
  });

  it('pin set → status → verify → change, with fido.pin.changed to every subscriber after set and change', async () => {
    const a = await t.connect();
    const watcher = await t.connect({ subscribe: ['fido'] });
    const events: unknown[] = [];
    watcher.on('fido.pin.changed', (e) => events.push(e));
    expect((await a.pinStatus(id)).state).toBe('no-pin');
    const set = await a.setPin(id, '1234');
    expect(set).toEqual({ state: 'ok', retriesLeft: 8, maxRetries: 8, powerCycleRequired: false, minLength: 4, maxLength: 63 });
    expect((await a.verifyPin(id, '1234')).retriesLeft).toBe(8);
    await a.changePin(id, '1234', '5678');
    await watcher.devicesList();
    expect(events).toEqual([
      { device: id, cause: 'set', status: expect.objectContaining({ state: 'ok', retriesLeft: 8 }) },
      { device: id, cause: 'change', status: expect.objectContaining({ state: 'ok', retriesLeft: 8 }) },
    ]);
    expect(key.pin).toBe('5678');
  });

  it('a wrong PIN gives -32000 PIN_INVALID with retriesLeft and the CTAP status (CTAP 2.1 §6.5.5.7)', async () => {
    key.pin = '1234';
    const c = await t.connect();
    const e = await rpcError(c.verifyPin(id, '0000'));
    expect(e.rpcCode).toBe(-32000);
    expect(e.code).toBe('PIN_INVALID');
    expect(e.details).toMatchObject({ retriesLeft: 7, ctapStatus: 0x31 });
  });

  it('fido.reset needs the admin role (FORBIDDEN for client), works for admin and emits fido.pin.changed', async () => {
    key.pin = '1234';
    const c = await t.connect();
    const e = await rpcError(c.reset(id));
    expect(e.code).toBe('FORBIDDEN');
    expect(key.ops).not.toContain('reset');
    const { ADMIN_TOKEN } = await import('./helpers.ts');
    const admin = await t.connect({ token: ADMIN_TOKEN, subscribe: ['fido'] });
    expect(admin.info.role).toBe('admin');
    const ev = new Promise((r) => admin.once('fido.pin.changed', r));
    expect((await admin.reset(id)).state).toBe('no-pin');
    expect(await ev).toMatchObject({ device: id, cause: 'reset' });
  });

  it('makeCredential and getAssertion carry base64url values both ways', async () => {
    const c = await t.connect();
    const cdh = toBase64Url(new Uint8Array(32).fill(7));
    const mc = await c.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: toBase64Url(new Uint8Array([1, 2])), name: 'alice' } });
    expect(mc).toEqual({
      fmt: 'packed',
      authData: toBase64Url(new Uint8Array(37).fill(1)),
      attStmt: { alg: -7, sig: toBase64Url(new Uint8Array([1, 2, 3])) },
      credentialId: toBase64Url(new Uint8Array([9, 9, 9, 7])),
      publicKey: { '1': 2, '3': -7, '-1': 1 },
    });
    const ga = await c.getAssertion({ device: id, rpId: 'example.com', clientDataHash: cdh, allowCredentials: [mc.credentialId] });
    expect(ga.assertions[0].signature).toBe(toBase64Url(new Uint8Array([7])));
  });

  it('clientDataHash must be 32 bytes (INVALID_PARAMS, -32602)', async () => {
    const c = await t.connect();
    const e = await rpcError(c.getAssertion({ device: id, rpId: 'example.com', clientDataHash: 'A'.repeat(42) }));
    expect(e.rpcCode).toBe(-32602);
    expect(e.code).toBe('INVALID_PARAMS');
  });

  it('fido.wink and an unknown device (DEVICE_NOT_FOUND)', async () => {
    const c = await t.connect();
    expect(await c.wink(id)).toEqual({});
    const e = await rpcError(c.wink('fido-000000000000'));
    expect(e.code).toBe('DEVICE_NOT_FOUND');
  });
});

describe('progress, cancellation and queueing', () => {
  it('request.progress carries the request id (touch-needed after processing)', async () => {
    key.hold = true;
    const c = await t.connect();
    const seen: string[] = [];
    const p = c.wink(id, { onProgress: (s) => seen.push(s) });
    await until(() => key.waitingForTouch === 1, 'touch wait');
    key.release();
    await p;
    expect(seen).toEqual(['processing', 'touch-needed']);
  });

  it('$/cancelRequest aborts the key operation (the key sees a cancel) and answers -32800 CANCELLED', async () => {
    key.hold = true;
    const c = await t.connect();
    const ac = new AbortController();
    const p = c.wink(id, { signal: ac.signal });
    await until(() => key.waitingForTouch === 1, 'touch wait');
    ac.abort();
    const e = await rpcError(p);
    expect(e.rpcCode).toBe(-32800);
    expect(e.code).toBe('CANCELLED');
    expect(key.cancels).toBe(1);
  });

  it('two clients on one key are queued FIFO, never interleaved', async () => {
    key.hold = true;
    const a = await t.connect();
    const b = await t.connect();
    const order: string[] = [];
    const pa = a.wink(id).then(() => order.push('a'));
    await until(() => key.waitingForTouch === 1, 'a waits for touch');
    const pb = b.pinStatus(id).then(() => order.push('b'));
    // b waits in the queue: the key has seen only a's operation.
    await b.devicesList();
    expect(key.ops).toEqual(['wink']);
    key.release();
    await until(() => key.waitingForTouch === 1, 'b reaches the key');
    key.release();
    await Promise.all([pa, pb]);
    expect(order).toEqual(['a', 'b']);
    expect(key.maxActive).toBe(1);
  });

  it('a queued request whose deadline runs out while waiting fails with DEVICE_BUSY and never reaches the key', async () => {
    key.hold = true;
    const a = await t.connect();
    const b = await t.connect();
    const pa = a.wink(id);
    await until(() => key.waitingForTouch === 1, 'a waits');
    const e = await rpcError(b.request('fido.pin.status', { device: id, timeoutMs: 50 }));
    expect(e.code).toBe('DEVICE_BUSY');
    expect(key.ops).toEqual(['wink']);
    key.release();
    await pa;
  });

  it('closing a connection in the middle of a PIN change cancels it on the key; the next client reads the key\'s state', async () => {
    key.pin = '1234';
    key.hold = true;
    const a = await t.connect();
    const p = a.changePin(id, '1234', '9999').catch((e) => e);
    await until(() => key.waitingForTouch === 1, 'change waits');
    a.close();
    await until(() => key.cancels === 1, 'cancel reached the key');
    expect(await p).toBeInstanceOf(Error);
    key.hold = false;
    const b = await t.connect();
    const st = await b.pinStatus(id);
    expect(st).toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(key.pin).toBe('1234');
  });

  it('a queued request of a closed connection is dropped without touching the key', async () => {
    key.hold = true;
    const a = await t.connect();
    const b = await t.connect();
    const pa = a.wink(id);
    await until(() => key.waitingForTouch === 1, 'a waits');
    void b.pinStatus(id).catch(() => undefined);
    await b.devicesList();
    b.close();
    await b.closedPromise();
    await a.devicesList();
    key.release();
    await pa;
    await a.devicesList();
    expect(key.ops).toEqual(['wink']);
  });

  it('unplugging the key fails its running request with DEVICE_REMOVED', async () => {
    key.hold = true;
    const a = await t.connect();
    const p = a.wink(id);
    await until(() => key.waitingForTouch === 1, 'a waits');
    provider.unplug('AAA');
    const e = await rpcError(p);
    expect(e.code).toBe('DEVICE_REMOVED');
  });
});

describe('the unix socket speaks the same protocol', () => {
  it('connects without a token (file permissions authorise) and gets the socket role', async () => {
    const c = await KeytapClient.connect({ socketPath: t.socket });
    try {
      expect(c.info.role).toBe('admin');
      expect((await c.devicesList()).devices.map((d) => d.id)).toEqual([id]);
    } finally {
      c.close();
    }
  });
});
