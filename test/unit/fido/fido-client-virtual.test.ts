/**
 * FidoClient end to end on the in-process virtual authenticator (src/sim): credentials with a
 * PIN token, cancel of a pending touch, wink, selection, and a signature check.
 */
import { describe, expect, it } from 'vitest';
import { createHash, createPublicKey, verify as verifySig } from 'node:crypto';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { Deadline } from '../../../src/util/deadline.ts';

function rig(touch: 'auto' | 'deny' | 'none' = 'auto') {
  const env = createSimEnv({ touchPolicy: touch });
  const auth = new VirtualAuthenticator({ env });
  const winks: number[] = [];
  const dev = new VirtualHidDevice(auth, { onWink: () => winks.push(1) });
  const open = async () => new FidoClient(await CtapHidTransport.open(dev.open(), { kind: 'virtual' }));
  return { env, auth, dev, open, winks };
}

const cdh = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());

describe('FidoClient on the virtual authenticator', () => {
  it('makeCredential with a PIN token (0x09 permissions), then getAssertion whose signature verifies with the credential key', async () => {
    const k = rig();
    const c = await k.open();
    await c.setPin(Pin.fromString('4826'));
    const progress: string[] = [];
    const cred = await c.makeCredential(
      { rpId: 'example.com', user: { id: Uint8Array.of(7), name: 'ada' }, clientDataHash: cdh('mc'), pin: Pin.fromString('4826'), residentKey: true },
      { onProgress: (p) => progress.push(p) },
    );
    expect(cred.fmt).toBe('packed');
    expect(cred.publicKey.get(3)).toBe(-7);
    const [a] = await c.getAssertion({ rpId: 'example.com', clientDataHash: cdh('ga'), allowCredentials: [cred.credentialId], pin: Pin.fromString('4826') });
    expect(a!.credentialId).toEqual(cred.credentialId);
    expect(a!.authData[32]! & 0x05).toBe(0x05); // UP and UV: the PIN token counts as UV
    const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(cred.publicKey.get(-2) as Uint8Array).toString('base64url'), y: Buffer.from(cred.publicKey.get(-3) as Uint8Array).toString('base64url') };
    const ok = verifySig('sha256', Buffer.concat([a!.authData, cdh('ga')]), createPublicKey({ key: jwk, format: 'jwk' }), a!.signature);
    expect(ok).toBe(true);
  });

  it('getAssertion without an allow list returns every discoverable credential (getNextAssertion)', async () => {
    const k = rig();
    const c = await k.open();
    await c.setPin(Pin.fromString('4826'));
    for (const id of [1, 2]) {
      await c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(id) }, clientDataHash: cdh('mc'), pin: Pin.fromString('4826'), residentKey: true });
    }
    const all = await c.getAssertion({ rpId: 'example.com', clientDataHash: cdh('ga'), pin: Pin.fromString('4826') });
    expect(all.length).toBe(2);
    expect(all[0]!.numberOfCredentials).toBe(2);
    expect(all.map((x) => x.user?.id[0]).sort()).toEqual([1, 2]);
  });

  it('a wrong PIN on makeCredential → PIN_INVALID with retries, and no credential is made', async () => {
    const k = rig();
    const c = await k.open();
    await c.setPin(Pin.fromString('4826'));
    await expect(c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh('x'), pin: Pin.fromString('9999') })).rejects.toMatchObject({
      code: 'PIN_INVALID',
      details: { retriesLeft: 7 },
    });
    expect(k.auth.pinState.credentials).toBe(0);
  });

  it('a touch the user refuses → OPERATION_DENIED', async () => {
    const k = rig('deny');
    const c = await k.open();
    await expect(c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh('x') })).rejects.toMatchObject({ code: 'OPERATION_DENIED' });
  });

  it('aborting while the key waits for a touch sends CTAPHID_CANCEL → CANCELLED, and the key is free again', async () => {
    const k = rig('none');
    const c = await k.open();
    const ac = new AbortController();
    const progress: string[] = [];
    const p = c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh('x') }, { signal: ac.signal, onProgress: (x) => {
      progress.push(x);
      if (x === 'touch-needed') ac.abort();
    } });
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(progress).toContain('touch-needed');
    expect(k.env.touch.pending).toBe(0);
    expect((await c.getInfo()).versions.length).toBeGreaterThan(0);
  });

  it('a deadline spent while waiting for a touch → TIMEOUT', async () => {
    const k = rig('none');
    const c = await k.open();
    await expect(c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh('x') }, { deadline: Deadline.in(300) })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('wink reaches the key (CTAPHID WINK) and selection returns after a touch (0x0B on CTAP 2.1)', async () => {
    const k = rig();
    const c = await k.open();
    await c.wink();
    expect(k.winks.length).toBe(1);
    await expect(c.selection()).resolves.toBeUndefined();
  });

  it('with 1 attempt left, a PIN for getAssertion is refused with CONFIRMATION_REQUIRED (nothing sent)', async () => {
    const k = rig();
    const open = k.open;
    await (await open()).setPin(Pin.fromString('4826'));
    const wrong = async () => (await open()).verifyPin(Pin.fromString('0000')).catch((e) => e.code);
    const cycle = () => (k.dev.unplug(), k.auth.powerCycle(), k.dev.plug());
    for (let i = 0; i < 3; i++) await wrong();
    cycle();
    for (let i = 0; i < 3; i++) await wrong();
    cycle();
    await wrong(); // 1 left
    await expect((await open()).getAssertion({ rpId: 'example.com', clientDataHash: cdh('x'), pin: Pin.fromString('4826') })).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
    expect(k.auth.pinState.pinRetries).toBe(1);
  });
});
