/**
 * How FidoClient schedules its PIN work around the key's answers (docs/pin-management.md §9):
 * requests leave before the work that does not need their reply, the agreement with the key's
 * last agreement key is computed early and used only when the key still has that key, and a
 * decoded getInfo is reused while its bytes do not change. Run on the in-process virtual key,
 * with a transport wrapper that records each CTAP2 request and what the client had computed
 * by the time getKeyAgreement's reply was handed to it.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import type { CtapTransport, ExchangeOptions } from '../../../src/fido/ctap-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { ClientPin, ClientPinSubcommand } from '../../../src/protocol/ctap2/client-pin.ts';
import { GetInfo } from '../../../src/protocol/ctap2/get-info.ts';
import { decodeCbor } from '../../../src/protocol/cbor.ts';
import type { CoseEc2PublicKey } from '../../../src/protocol/cose.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { loadProfile } from '../../../src/sim/profiles.ts';

const SUB_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ClientPinSubcommand).map(([k, v]) => [v, k]));

/** Names each CTAP2 request (`getInfo`, `clientPIN.changePIN`, …) and counts the randomness drawn before getKeyAgreement's reply. */
class Recorder implements CtapTransport {
  readonly log: string[] = [];
  /** Random bytes drawn by the client when each getKeyAgreement reply was handed over. */
  readonly drawnAtAgreement: number[] = [];
  drawn = 0;
  constructor(readonly inner: CtapTransport) {}
  get kind() {
    return this.inner.kind;
  }
  get descriptor() {
    return this.inner.descriptor;
  }
  get capabilities() {
    return this.inner.capabilities;
  }
  async exchange(cmd: number, payload: Uint8Array, options?: ExchangeOptions): Promise<Uint8Array> {
    let name = `0x${payload[0]!.toString(16)}`;
    let sub: number | undefined;
    if (payload[0] === GetInfo.code) name = 'getInfo';
    if (payload[0] === ClientPin.code) {
      sub = (decodeCbor(payload.subarray(1)) as Map<number, number>).get(2);
      name = `clientPIN.${SUB_NAMES[sub!]}`;
    }
    this.log.push(name);
    const reply = await this.inner.exchange(cmd, payload, options);
    if (sub === ClientPinSubcommand.getKeyAgreement) this.drawnAtAgreement.push(this.drawn);
    return reply;
  }
  close() {
    return this.inner.close();
  }
}

function rig(profile?: string) {
  const env = createSimEnv({ touchPolicy: 'auto' });
  const auth = new VirtualAuthenticator({ env, ...(profile ? { profile: loadProfile(profile) } : {}) });
  const dev = new VirtualHidDevice(auth);
  const agreementKeys = new Map<string, CoseEc2PublicKey>();
  const open = async () => {
    const t = new Recorder(await CtapHidTransport.open(dev.open(), { kind: 'virtual', descriptor: 'virtual-key-1' }));
    const random = (n: number) => {
      t.drawn += n;
      return new Uint8Array(randomBytes(n));
    };
    return { t, c: new FidoClient(t, { random, agreementKeys }) };
  };
  const powerCycle = () => (dev.unplug(), auth.powerCycle(), dev.plug());
  return { auth, open, agreementKeys, powerCycle };
}

const CHANGE = ['getInfo', 'clientPIN.getPINRetries', 'clientPIN.getKeyAgreement', 'clientPIN.changePIN', 'getInfo', 'clientPIN.getPINRetries'];

describe('FidoClient: PIN work scheduled around the key', () => {
  it('the first change makes its key pair while the key answers; the next one has agreement and request ready (key unchanged), each with one changePIN sent', async () => {
    const k = rig();
    const { t, c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    t.log.length = 0;
    t.drawnAtAgreement.length = 0;
    t.drawn = 0;
    // The key's agreement key is known from setPIN, and a spare scalar was made while setPIN's
    // closing getInfo was answered: each change draws both protocol-2 IVs (2 × 16 B) for its
    // request before getKeyAgreement's reply is handed over, then the scalar for the next
    // operation (32 B) while its own closing getInfo is answered, and nothing in between.
    await expect(c.changePin(Pin.fromString('4826'), Pin.fromString('5937'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    await expect(c.changePin(Pin.fromString('5937'), Pin.fromString('6048'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(t.log).toEqual([...CHANGE, ...CHANGE]);
    expect(t.drawnAtAgreement).toEqual([32, 96]);
    expect(t.drawn).toBe(128);
    expect(k.auth.pinState.pinRetries).toBe(8);
  });

  it('protocol 1 keys (zero IV, nothing to draw for the request): the early agreement is used too, one agreement key remembered as v1', async () => {
    const k = rig('yubikey-5-nfc-pin1');
    const { t, c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    expect([...k.agreementKeys.keys()]).toEqual(['virtual-key-1 v1']);
    t.drawnAtAgreement.length = 0;
    t.drawn = 0;
    await expect(c.changePin(Pin.fromString('4826'), Pin.fromString('5937'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    await expect(c.changePin(Pin.fromString('5937'), Pin.fromString('6048'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(t.drawnAtAgreement).toEqual([0, 32]); // only the spare scalars, made while getInfo was answered
    expect(t.drawn).toBe(64);
    await expect(c.verifyPin(Pin.fromString('6048'))).resolves.toMatchObject({ state: 'ok' });
  });

  it('PIN tokens (verifyPin, getAssertion with a PIN) are scheduled the same way: the token request is ready before getKeyAgreement returns', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    const { t, c: c2 } = await k.open();
    await expect(c2.verifyPin(Pin.fromString('4826'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(t.log).toEqual(['getInfo', 'clientPIN.getPINRetries', 'clientPIN.getKeyAgreement', 'clientPIN.getPinUvAuthTokenUsingPinWithPermissions', 'clientPIN.getPINRetries']);
    // The key is known from the first client (shared map): scalar and IV are drawn before the reply.
    expect(t.drawnAtAgreement).toEqual([48]);
    t.log.length = 0;
    t.drawnAtAgreement.length = 0;
    t.drawn = 0;
    const cred = await c2.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: new Uint8Array(32), pin: Pin.fromString('4826') });
    const [a] = await c2.getAssertion({ rpId: 'example.com', clientDataHash: new Uint8Array(32), allowCredentials: [cred.credentialId], pin: Pin.fromString('4826') });
    expect(a!.credentialId).toEqual(cred.credentialId);
    // Per operation: the scalar (made while getInfo is answered) and the token request's IV, all
    // before getKeyAgreement's reply; nothing after it.
    expect(t.drawnAtAgreement).toEqual([48, 96]);
    expect(t.drawn).toBe(96);
    expect(t.log.filter((x) => x.startsWith('clientPIN.getPinUvAuthToken'))).toHaveLength(2);
  });

  it('a client that knows no agreement key only makes its key pair early (32 B), and builds the request (2 IVs) after the reply', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    k.agreementKeys.clear();
    const { t, c: fresh } = await k.open();
    await fresh.changePin(Pin.fromString('4826'), Pin.fromString('5937'));
    expect(t.drawnAtAgreement).toEqual([32]);
    expect(t.drawn).toBe(32 + 32 + 32); // + the IVs after the reply + the next operation's spare scalar
    expect(k.agreementKeys.get('virtual-key-1 v2')).toBeDefined();
  });

  it('after a power cycle the key has a new agreement key: the early work is dropped, the agreement redone with the new key, and the change still lands once', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    const before = k.agreementKeys.get('virtual-key-1 v2')!;
    k.powerCycle();
    const { t, c: after } = await k.open();
    await expect(after.changePin(Pin.fromString('4826'), Pin.fromString('5937'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(t.log.filter((x) => x === 'clientPIN.changePIN')).toHaveLength(1);
    expect(t.drawnAtAgreement).toEqual([64]); // scalar and IVs for the old key were ready …
    expect(t.drawn).toBe(64 + 64 + 32); // … and thrown away: a new scalar and IVs after the reply (+ the next spare)
    const now = k.agreementKeys.get('virtual-key-1 v2')!;
    expect(Buffer.from(now.x).equals(Buffer.from(before.x))).toBe(false);
    await expect(after.verifyPin(Pin.fromString('5937'))).resolves.toMatchObject({ state: 'ok' });
  });

  it('a wrong PIN makes the key regenerate its agreement key, so the client forgets it; the next change still works', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    await expect(c.changePin(Pin.fromString('0000'), Pin.fromString('5937'))).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 7 } });
    expect(k.agreementKeys.has('virtual-key-1 v2')).toBe(false);
    await expect(c.changePin(Pin.fromString('4826'), Pin.fromString('5937'))).resolves.toMatchObject({ state: 'ok', retriesLeft: 8 });
  });

  it('a new PIN the rules refuse → PIN_POLICY_VIOLATION after the state read, with no key agreement or changePIN sent', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    const { t, c: c2 } = await k.open();
    await expect(c2.changePin(Pin.fromString('4826'), Pin.fromString('12'))).rejects.toMatchObject({ code: 'PIN_POLICY_VIOLATION' });
    expect(t.log).toEqual(['getInfo', 'clientPIN.getPINRetries']);
    expect(k.auth.pinState.pinRetries).toBe(8);
  });

  it('the state the guard refuses wins over a rule the new PIN breaks (soft block, too-short PIN → PIN_SOFT_BLOCKED)', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    for (let i = 0; i < 3; i++) await c.verifyPin(Pin.fromString('0000')).catch(() => undefined);
    const { t, c: c2 } = await k.open();
    await expect(c2.changePin(Pin.fromString('4826'), Pin.fromString('12'))).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED' });
    expect(t.log).toEqual(['getInfo', 'clientPIN.getPINRetries']);
  });

  it('getInfo is read every time but decoded again only when its bytes change; the shared result is frozen', async () => {
    const k = rig();
    const { t, c } = await k.open();
    const a = await c.getInfo();
    const b = await c.getInfo();
    expect(t.log).toEqual(['getInfo', 'getInfo']);
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.options)).toBe(true);
    expect(a.options?.clientPin).toBe(false);
    await c.setPin(Pin.fromString('4826'));
    const after = await c.getInfo();
    expect(after).not.toBe(a);
    expect(after.options?.clientPin).toBe(true);
  });

  it('agreement keys are public keys only, one per key and protocol', async () => {
    const k = rig();
    const { c } = await k.open();
    await c.setPin(Pin.fromString('4826'));
    expect([...k.agreementKeys.keys()]).toEqual(['virtual-key-1 v2']);
    const key = k.agreementKeys.get('virtual-key-1 v2')!;
    expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kty', 'x', 'y']);
  });
});
