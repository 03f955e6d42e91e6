/**
 * The agent against the in-process virtual authenticator over real sockets, with the real
 * FidoClient, CtapHidTransport and CTAPHID device: every method, PIN semantics with spec
 * numbers (8 retries, soft block after 3 wrong in a row, CTAP 2.1 §6.5.2.1), progress, cancel
 * reaching the key as CTAPHID_CANCEL, queueing of two clients, and a disconnect in the middle of
 * a PIN change after which the key's own state is what clients see.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestAgent, until, ADMIN_TOKEN, type TestAgent, rpcError } from './helpers.ts';
import { SimKey, SimKeyProvider, isChangePin } from './sim-key.ts';
import { fidoClientFactory } from '../../../src/main.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';
import { KeytapRpcError, type KeytapClient } from '../../../src/client/keytap-client.ts';
import { toBase64Url } from '../../../src/util/bytes.ts';

let t: TestAgent;
let key: SimKey;
let provider: SimKeyProvider;
let id: string;
const cdh = toBase64Url(new Uint8Array(32).fill(5));

beforeEach(async () => {
  t = await startTestAgent({ fidoClient: fidoClientFactory });
  key = new SimKey('K1');
  provider = new SimKeyProvider([key]);
  await t.agent.addProvider(provider);
  id = deviceIdFor('authenticator', 'simtest', 'K1');
});
afterEach(async () => {
  await t.close();
});

describe('every fido method against the virtual key', () => {
  it('fido.info returns getInfo with base64url aaguid', async () => {
    const c = await t.connect();
    const info = await c.fidoInfo(id);
    expect(info.versions).toContain('FIDO_2_1');
    expect(typeof info.aaguid).toBe('string');
    expect(info.aaguid).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('set → verify → wrong PIN (retries 7) → change → status, and fido.pin.changed after set and change', async () => {
    const c = await t.connect({ subscribe: ['fido'] });
    const changed: unknown[] = [];
    c.on('fido.pin.changed', (e) => changed.push(e));
    expect(await c.pinStatus(id)).toMatchObject({ state: 'no-pin', retriesLeft: null });
    expect(await c.setPin(id, '2468')).toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(await c.verifyPin(id, '2468')).toMatchObject({ state: 'ok', retriesLeft: 8 });
    const e = await rpcError(c.verifyPin(id, '1357'));
    expect(e.code).toBe('PIN_INVALID');
    expect(e.details).toMatchObject({ retriesLeft: 7, ctapStatus: 0x31, ctapStatusName: 'PIN_INVALID' });
    expect(await c.changePin(id, '2468', '8642')).toMatchObject({ state: 'ok', retriesLeft: 8 });
    await c.devicesList();
    expect(changed).toMatchObject([{ device: id, cause: 'set' }, { device: id, cause: 'change' }]);
  });

  it('three wrong PINs in a row soft-block the key until it is re-plugged (CTAP 2.1 §6.5.2.1)', async () => {
    const c = await t.connect({ token: ADMIN_TOKEN });
    await c.setPin(id, '2468');
    await rpcError(c.verifyPin(id, '0001'));
    await rpcError(c.verifyPin(id, '0002'));
    const third = await rpcError(c.verifyPin(id, '0003'));
    expect(third.code).toBe('PIN_SOFT_BLOCKED');
    expect(await c.pinStatus(id)).toMatchObject({ state: 'soft-blocked', retriesLeft: 5, powerCycleRequired: true });
    const sub = await t.connect({ subscribe: ['device'] });
    const back = new Promise((r) => sub.once('device.attached', r));
    provider.unplug(key);
    provider.plug(key);
    await back;
    expect(await c.pinStatus(id)).toMatchObject({ state: 'ok', retriesLeft: 5 });
  });

  it('makeCredential then getAssertion with the credential; wink; reset (admin) clears the PIN', async () => {
    const c = await t.connect({ token: ADMIN_TOKEN });
    const mc = await c.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: toBase64Url(new Uint8Array([1, 2, 3])), name: 'alice' } });
    expect(mc.fmt).toBe('packed');
    expect(mc.publicKey['3']).toBe(-7);
    const ga = await c.getAssertion({ device: id, rpId: 'example.com', clientDataHash: cdh, allowCredentials: [mc.credentialId] });
    expect(ga.assertions).toHaveLength(1);
    expect(ga.assertions[0].credentialId).toBe(mc.credentialId);
    expect(await c.wink(id)).toEqual({});
    await c.setPin(id, '2468');
    expect(await c.reset(id)).toMatchObject({ state: 'no-pin' });
  });
});

describe('progress, cancel and queueing on the virtual key', () => {
  it('request.progress touch-needed arrives with the request id while the key waits for a touch', async () => {
    key.touch.autoDelayMs = 400;
    const c = await t.connect();
    const seen: string[] = [];
    await c.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: 'AQ' } }, { onProgress: (s) => seen.push(s) });
    expect(seen).toContain('touch-needed');
  });

  it('$/cancelRequest reaches the key as CTAPHID_CANCEL and the request ends with -32800', async () => {
    key.touch.policy = 'none';
    const c = await t.connect();
    const ac = new AbortController();
    const p = c.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: 'AQ' } }, { signal: ac.signal, onProgress: (s) => s === 'touch-needed' && ac.abort() });
    const e = await rpcError(p);
    expect(e.rpcCode).toBe(-32800);
    expect(e.code).toBe('CANCELLED');
    await until(() => key.touch.pending === 0, 'the key stopped waiting for touch');
    key.touch.policy = 'auto';
    expect(await c.pinStatus(id)).toMatchObject({ state: 'no-pin' });
  });

  it('two clients are served in arrival order on one key', async () => {
    key.touch.autoDelayMs = 300;
    const a = await t.connect();
    const b = await t.connect();
    const order: string[] = [];
    const pa = a.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: 'AQ' } }, { onProgress: () => undefined }).then(() => order.push('a'));
    await until(() => key.touch.pending === 1, 'a waits for touch');
    const pb = b.pinStatus(id).then(() => order.push('b'));
    await Promise.all([pa, pb]);
    expect(order).toEqual(['a', 'b']);
  });

  it('a disconnect in the middle of a PIN change sends CANCEL to the key; afterwards the key\'s own state is reported', async () => {
    const a: KeytapClient = await t.connect();
    await a.setPin(id, '2468');
    key.hold = isChangePin;
    const p = a.changePin(id, '2468', '9753').catch((e) => e);
    await until(() => key.held === 1, 'the change reached the key');
    a.close();
    await until(() => key.cancels === 1, 'CTAPHID_CANCEL reached the key');
    expect(await p).toBeInstanceOf(Error);
    key.hold = null;
    const b = await t.connect();
    expect(await b.pinStatus(id)).toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(await b.verifyPin(id, '2468')).toMatchObject({ state: 'ok' });
    expect((await rpcError(b.verifyPin(id, '9753'))).code).toBe('PIN_INVALID');
  });

  it('guided reset: remove-key, insert-key (same key back), then the reset inside the power-up window', async () => {
    const admin = await t.connect({ token: ADMIN_TOKEN });
    await admin.setPin(id, '2468');
    const seen: string[] = [];
    const status = await admin.request('fido.reset', { device: id, guided: true }, {
      onProgress: (s) => {
        seen.push(s);
        if (s === 'remove-key') provider.unplug(key);
        if (s === 'insert-key') provider.plug(key);
      },
    });
    expect(seen.slice(0, 2)).toEqual(['remove-key', 'insert-key']);
    expect(status).toMatchObject({ state: 'no-pin' });
  });

  it('guided reset gives up with TIMEOUT when the key is not removed within the budget, erasing nothing', async () => {
    const admin = await t.connect({ token: ADMIN_TOKEN });
    await admin.setPin(id, '2468');
    const e = await rpcError(admin.request('fido.reset', { device: id, guided: true, timeoutMs: 100 }));
    expect(e.code).toBe('TIMEOUT');
    expect(await admin.pinStatus(id)).toMatchObject({ state: 'ok' });
  });

});

describe('PIN rules and the last attempt through the agent (DESIGN.md §3)', () => {
  it('a too-short new PIN is PIN_POLICY_VIOLATION with the rule, and the key is not asked', async () => {
    const c = await t.connect();
    const before = key.commands.length;
    const e = await rpcError(c.setPin(id, '12'));
    expect(e.code).toBe('PIN_POLICY_VIOLATION');
    expect(typeof e.details.rule).toBe('string');
    expect(key.commands.slice(before)).not.toContain(0x06); // no authenticatorClientPIN reached the key
    expect(await c.pinStatus(id)).toMatchObject({ state: 'no-pin' });
  });

  it('with 1 attempt left a verify needs confirmLastAttempt (CONFIRMATION_REQUIRED, nothing spent); confirmed, the right PIN restores 8', async () => {
    await t.close();
    t = await startTestAgent({ fidoClient: fidoClientFactory, config: { limits: { pinAttemptsPerConnection: 100, pinAttemptsPerToken: 100 } } });
    key = new SimKey('K1');
    provider = new SimKeyProvider([key]);
    await t.agent.addProvider(provider);
    const c = await t.connect();
    await c.setPin(id, '2468');
    // 7 wrong PINs: a power cycle after every 3 (soft block, CTAP 2.1 §6.5.2.1), leaving 1 of 8.
    for (let i = 1; i <= 7; i++) {
      await rpcError(c.verifyPin(id, '0000'));
      if (i % 3 === 0) {
        provider.unplug(key);
        provider.plug(key);
      }
    }
    expect(await c.pinStatus(id)).toMatchObject({ state: 'ok', retriesLeft: 1 });
    const e = await rpcError(c.verifyPin(id, '2468'));
    expect(e.code).toBe('CONFIRMATION_REQUIRED');
    expect(e.details.retriesLeft).toBe(1);
    expect(await c.pinStatus(id)).toMatchObject({ retriesLeft: 1 });
    expect(await c.verifyPin(id, '2468', { confirmLastAttempt: true })).toMatchObject({ state: 'ok', retriesLeft: 8 });
  });
});
