import { describe, expect, it } from 'vitest';
import { createHash, createVerify, createPublicKey } from 'node:crypto';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, MemoryStorage, TouchController } from '../../../src/sim/env.ts';
import { listProfiles, loadProfile } from '../../../src/sim/profiles.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { CtapStatus } from '../../../src/protocol/ctap2/status.ts';
import { ClientPin, ClientPinSubcommand, PinUvAuthPermission } from '../../../src/protocol/ctap2/client-pin.ts';
import { Reset } from '../../../src/protocol/ctap2/reset.ts';
import { Selection } from '../../../src/protocol/ctap2/selection.ts';
import { AuthenticatorConfig, ConfigSubcommand, configAuthMessage, encodeSetMinPinLengthParams } from '../../../src/protocol/ctap2/config.ts';
import { MakeCredential } from '../../../src/protocol/ctap2/make-credential.ts';
import { GetAssertion, GetNextAssertion } from '../../../src/protocol/ctap2/get-assertion.ts';
import { parseAuthData } from '../../../src/protocol/ctap2/auth-data.ts';
import { frameRequest } from '../../../src/protocol/ctap2/frame.ts';
import { TestHost } from './helpers/host.ts';

function make(opts: { profile?: string; pin?: string; touch?: TouchController; protocol?: 1 | 2 } = {}) {
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const touch = opts.touch ?? new TouchController('auto');
  const storage = new MemoryStorage();
  const env = createSimEnv({ clock: clock.now, touch, storage });
  const profile = loadProfile(opts.profile ?? 'yubikey-5-nfc-5.7');
  const auth = new VirtualAuthenticator({ profile, env, ...(opts.pin ? { initialPin: Pin.fromString(opts.pin) } : {}) });
  return { auth, clock, touch, storage, host: new TestHost(auth, opts.protocol ?? 2), profile };
}

const cdh = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());

describe('VirtualAuthenticator: getInfo (CTAP 2.1 §6.4)', () => {
  it('reports the profile with live clientPin, forcePINChange and minPINLength', async () => {
    const { host } = make();
    const info = await host.getInfo();
    expect(info.versions).toContain('FIDO_2_1');
    expect(info.pinUvAuthProtocols).toEqual([2, 1]);
    expect(info.options?.clientPin).toBe(false);
    expect(info.minPINLength).toBe(4);
    expect(info.forcePINChange).toBe(false);
    expect(await host.setPin('1234')).toBe(0);
    expect((await host.getInfo()).options?.clientPin).toBe(true);
  });
});

describe('VirtualAuthenticator: PIN retries and blocking (fido.md §5, CTAP 2.1 §6.5.5)', () => {
  for (const protocol of [2, 1] as const) {
    it(`follows the canonical lockout sequence step by step with PIN protocol ${protocol}`, async () => {
      const { host, auth } = make({ pin: '123456', protocol });
      // step 0
      expect(await host.retries()).toEqual({ pinRetries: 8, powerCycleState: false });
      // steps 1-2: decrement before compare, 0x31
      expect((await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_INVALID);
      expect(await host.retries()).toEqual({ pinRetries: 7, powerCycleState: false });
      expect((await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_INVALID);
      expect(await host.retries()).toEqual({ pinRetries: 6, powerCycleState: false });
      // step 3: third consecutive mismatch → 0x34, powerCycleState true
      expect((await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_AUTH_BLOCKED);
      expect(await host.retries()).toEqual({ pinRetries: 5, powerCycleState: true });
      // step 4: the right PIN is refused too, and costs nothing
      expect((await host.token('123456', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_AUTH_BLOCKED);
      expect(await host.changePin('123456', '654321')).toBe(CtapStatus.PIN_AUTH_BLOCKED);
      expect(await host.retries()).toEqual({ pinRetries: 5, powerCycleState: true });
      // step 5: power cycle clears the soft block, not the counter
      auth.powerCycle();
      expect(await host.retries()).toEqual({ pinRetries: 5, powerCycleState: false });
      // step 6
      expect((await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_INVALID);
      expect(await host.retries()).toEqual({ pinRetries: 4, powerCycleState: false });
      // step 7: right PIN → token, retries back to 8
      const t = await host.token('123456', PinUvAuthPermission.getAssertion, 'example.com');
      expect(t.status).toBe(0);
      expect(t.token).toHaveLength(32);
      expect(await host.retries()).toEqual({ pinRetries: 8, powerCycleState: false });
    });
  }

  it('regenerates the key-agreement key after a mismatch (fido.md §5 step 4)', async () => {
    const { host } = make({ pin: '123456' });
    const before = await host.clientPin({ subCommand: ClientPinSubcommand.getKeyAgreement });
    const again = await host.clientPin({ subCommand: ClientPinSubcommand.getKeyAgreement });
    expect(again.keyAgreement!.x).toEqual(before.keyAgreement!.x);
    expect(await host.changePin('000000', '222222')).toBe(CtapStatus.PIN_INVALID);
    const after = await host.clientPin({ subCommand: ClientPinSubcommand.getKeyAgreement });
    expect(after.keyAgreement!.x).not.toEqual(before.keyAgreement!.x);
  });

  it('blocks hard at 0 retries (0x32) until reset, which restores the no-PIN state (CTAP 2.1 §6.6)', async () => {
    const { host, auth, clock } = make({ pin: '123456' });
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      if (i > 0 && i % 3 === 0) auth.powerCycle();
      seen.push((await host.token('999999')).status);
    }
    expect(seen).toEqual([0x31, 0x31, 0x34, 0x31, 0x31, 0x34, 0x31, 0x32]);
    expect((await host.retries()).pinRetries).toBe(0);
    auth.powerCycle();
    expect((await host.token('123456')).status).toBe(CtapStatus.PIN_BLOCKED);
    expect(await host.changePin('123456', '654321')).toBe(CtapStatus.PIN_BLOCKED);
    expect((await host.retries()).pinRetries).toBe(0);
    clock.advance(1000);
    expect(await host.status(Reset, undefined)).toBe(0);
    expect((await host.getInfo()).options?.clientPin).toBe(false);
    // YubiKey profile: getPINRetries without a PIN is PIN_NOT_SET (fido.md §14.3)
    expect(await host.status(ClientPin, { subCommand: ClientPinSubcommand.getPINRetries })).toBe(CtapStatus.PIN_NOT_SET);
    expect(await host.setPin('1234')).toBe(0);
    expect((await host.retries()).pinRetries).toBe(8);
  });

  it('answers 0x31 to the third wrong PIN on a profile that does (fido.md §14.1) and still soft-blocks the fourth', async () => {
    const { host } = make({ profile: 'nitrokey-fido2', pin: '123456', protocol: 1 });
    const s = [];
    for (let i = 0; i < 4; i++) s.push((await host.token('000000')).status);
    expect(s).toEqual([0x31, 0x31, 0x31, 0x34]);
    // powerCycleState omitted on this profile (fido.md §14.7); retries reported without a PIN
    expect(await host.retries()).toEqual({ pinRetries: 5 });
  });

  it('refuses setPIN when a PIN is set (0x30) and changePIN when none is (0x35)', async () => {
    const { host } = make();
    expect(await host.changePin('1234', '5678')).toBe(CtapStatus.PIN_NOT_SET);
    expect(await host.setPin('1234')).toBe(0);
    expect(await host.setPin('5678')).toBe(CtapStatus.NOT_ALLOWED);
  });

  it('checks PIN length: < 4 code points or > 63 bytes → 0x37 (CTAP 2.1 §6.5.5.5, fido.md §6)', async () => {
    const { host } = make();
    expect(await host.setPin('123')).toBe(CtapStatus.PIN_POLICY_VIOLATION);
    expect(await host.setPin('x'.repeat(64))).toBe(CtapStatus.PIN_POLICY_VIOLATION); // no NUL left
    expect(await host.setPin('é'.repeat(32))).toBe(CtapStatus.PIN_POLICY_VIOLATION); // 64 bytes UTF-8
    expect(await host.setPin('😀😀😀😀')).toBe(0); // 4 code points, 16 bytes
  });

  it('rejects a PIN with a NUL inside (CTAP 2.1 §6.5.5.5)', async () => {
    const { host } = make();
    expect(await host.setPin('12\u000034')).toBe(CtapStatus.PIN_POLICY_VIOLATION);
  });

  it('rejects a wrong pinUvAuthParam on setPIN with 0x33 without touching retries', async () => {
    const { host } = make();
    const { platformKey, shared } = await host.agree();
    const newPinEnc = host.pp.encrypt(shared, new Uint8Array(64).fill(0x31, 0, 4));
    const status = await host.status(ClientPin, {
      pinUvAuthProtocol: 2,
      subCommand: ClientPinSubcommand.setPIN,
      keyAgreement: platformKey,
      newPinEnc,
      pinUvAuthParam: new Uint8Array(32),
    });
    expect(status).toBe(CtapStatus.PIN_AUTH_INVALID);
  });

  it('changePIN then the old PIN is wrong and the new one right; the token is cleared', async () => {
    const { host } = make({ pin: '123456' });
    const t = await host.token('123456', PinUvAuthPermission.makeCredential, 'example.com');
    expect(t.status).toBe(0);
    expect(await host.changePin('123456', '24680')).toBe(0);
    // the old token no longer authenticates makeCredential
    const hash = cdh('x');
    const st = await host.status(MakeCredential, {
      clientDataHash: hash,
      rp: { id: 'example.com' },
      user: { id: Uint8Array.of(1) },
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
      pinUvAuthProtocol: 2,
      pinUvAuthParam: host.pp.authenticate(t.token!, hash),
    });
    expect(st).toBe(CtapStatus.PIN_AUTH_INVALID);
    expect((await host.token('123456')).status).toBe(CtapStatus.PIN_INVALID);
    expect((await host.token('24680')).status).toBe(0);
  });

  it('rejects an unsupported protocol with INVALID_PARAMETER and a missing one with MISSING_PARAMETER', async () => {
    const { host } = make({ profile: 'yubikey-5-nfc-pin1' });
    expect(await host.status(ClientPin, { pinUvAuthProtocol: 2, subCommand: ClientPinSubcommand.getKeyAgreement })).toBe(CtapStatus.INVALID_PARAMETER);
    expect(await host.status(ClientPin, { subCommand: ClientPinSubcommand.getKeyAgreement })).toBe(CtapStatus.MISSING_PARAMETER);
  });

  it('refuses permissions 0 and permissions the profile lacks', async () => {
    const { host } = make({ pin: '123456' });
    expect((await host.token('123456', 0)).status).toBe(CtapStatus.INVALID_PARAMETER);
    expect((await host.token('123456', PinUvAuthPermission.bioEnrollment)).status).toBe(CtapStatus.UNAUTHORIZED_PERMISSION);
  });
});

describe('VirtualAuthenticator: forcePINChange and authenticatorConfig (CTAP 2.1 §6.11.4)', () => {
  async function configToken(host: TestHost) {
    const t = await host.token('123456', PinUvAuthPermission.authenticatorConfig);
    expect(t.status).toBe(0);
    return t.token!;
  }

  it('setMinPINLength with forceChangePin: token requests answer 0x37, the same PIN is refused, a new one clears the flag', async () => {
    const { host } = make({ profile: 'token2-t2f2', pin: '123456' });
    const token = await configToken(host);
    const params = encodeSetMinPinLengthParams({ newMinPINLength: 6, forceChangePin: true });
    expect(
      await host.status(AuthenticatorConfig, {
        subCommand: ConfigSubcommand.setMinPINLength,
        subCommandParams: params,
        pinUvAuthProtocol: 2,
        pinUvAuthParam: host.pp.authenticate(token, configAuthMessage(ConfigSubcommand.setMinPINLength, params)),
      }),
    ).toBe(0);
    const info = await host.getInfo();
    expect(info.forcePINChange).toBe(true);
    expect(info.minPINLength).toBe(6);
    expect((await host.token('123456', PinUvAuthPermission.getAssertion, 'x')).status).toBe(CtapStatus.PIN_POLICY_VIOLATION);
    expect((await host.retries()).pinRetries).toBe(8); // the PIN itself was right
    expect(await host.changePin('123456', '123456')).toBe(CtapStatus.PIN_POLICY_VIOLATION);
    expect(await host.changePin('123456', '12345')).toBe(CtapStatus.PIN_POLICY_VIOLATION); // below the new minimum
    expect(await host.changePin('123456', '654321')).toBe(0);
    expect((await host.getInfo()).forcePINChange).toBe(false);
    expect((await host.token('654321', PinUvAuthPermission.getAssertion, 'x')).status).toBe(0);
  });

  it('refuses a lower minimum, and config without a token with the acfg permission', async () => {
    const { host } = make({ profile: 'token2-t2f2', pin: '123456' });
    const params = encodeSetMinPinLengthParams({ newMinPINLength: 3 });
    expect(await host.status(AuthenticatorConfig, { subCommand: ConfigSubcommand.setMinPINLength, subCommandParams: params })).toBe(CtapStatus.PUAT_REQUIRED);
    const mcToken = (await host.token('123456', PinUvAuthPermission.makeCredential)).token!;
    const msg = configAuthMessage(ConfigSubcommand.setMinPINLength, params);
    expect(await host.status(AuthenticatorConfig, { subCommand: 3, subCommandParams: params, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(mcToken, msg) })).toBe(
      CtapStatus.UNAUTHORIZED_PERMISSION,
    );
    const token = await configToken(host);
    expect(await host.status(AuthenticatorConfig, { subCommand: 3, subCommandParams: params, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(token, msg) })).toBe(
      CtapStatus.PIN_POLICY_VIOLATION,
    );
  });

  it('uses the profile status for a token request while forced (OpenSK-style 0x31 is configurable)', async () => {
    const p = loadProfile('token2-t2f2');
    p.behaviour.forcePinChangeTokenStatus = 0x31;
    const env = createSimEnv();
    const auth = new VirtualAuthenticator({ profile: p, env, initialPin: Pin.fromString('123456') });
    const host = new TestHost(auth, 2);
    const token = (await host.token('123456', PinUvAuthPermission.authenticatorConfig)).token!;
    const params = encodeSetMinPinLengthParams({ forceChangePin: true });
    await host.call(AuthenticatorConfig, { subCommand: 3, subCommandParams: params, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(token, configAuthMessage(3, params)) });
    expect((await host.token('123456', PinUvAuthPermission.getAssertion, 'x')).status).toBe(0x31);
  });
});

describe('VirtualAuthenticator: reset (CTAP 2.1 §6.6, fido.md §10)', () => {
  it('is allowed only within the reset window after power-up (5 s on the YubiKey profile)', async () => {
    const { host, auth, clock } = make({ pin: '123456' });
    clock.advance(5001);
    expect(await host.status(Reset, undefined)).toBe(CtapStatus.NOT_ALLOWED);
    auth.powerCycle();
    clock.advance(4999);
    expect(await host.status(Reset, undefined)).toBe(0);
  });

  it('has a 10 s window on the Nitrokey profile', async () => {
    const { host, clock } = make({ profile: 'nitrokey-fido2' });
    clock.advance(9000);
    expect(await host.status(Reset, undefined)).toBe(0);
  });

  it('needs user presence: denied → 0x27, no touch → 0x3A, cancel → 0x2D; UPNEEDED keepalive while waiting', async () => {
    const touch = new TouchController('deny');
    const { host, auth } = make({ pin: '123456', touch });
    expect(await host.status(Reset, undefined)).toBe(CtapStatus.OPERATION_DENIED);
    touch.next('none');
    const a = new VirtualAuthenticator({ profile: auth.profile, env: createSimEnv({ touch }) });
    const statuses: number[] = [];
    const ac = new AbortController();
    const p = a.handle(frameRequest(Reset, undefined), { signal: ac.signal, onKeepalive: (s) => statuses.push(s) });
    await Promise.resolve();
    expect(touch.pending).toBe(1);
    ac.abort();
    expect([...(await p)]).toEqual([CtapStatus.KEEPALIVE_CANCEL]);
    expect(statuses[0]).toBe(2);
    // a timeout answers ACTION_TIMEOUT
    const fast = new VirtualAuthenticator({ profile: auth.profile, env: createSimEnv({ touchPolicy: 'none' }), userPresenceTimeoutMs: 5 });
    expect([...(await fast.handle(frameRequest(Reset, undefined)))]).toEqual([CtapStatus.ACTION_TIMEOUT]);
    // the PIN survived the refused resets
    expect((await host.getInfo()).options?.clientPin).toBe(true);
  });

  it('wipes credentials and the PIN', async () => {
    const { host, auth } = make({ pin: '123456' });
    const t = (await host.token('123456', PinUvAuthPermission.makeCredential, 'example.com')).token!;
    const h = cdh('c');
    await host.call(MakeCredential, { clientDataHash: h, rp: { id: 'example.com' }, user: { id: Uint8Array.of(1) }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }], options: { rk: true }, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(t, h) });
    expect(auth.pinState.credentials).toBe(1);
    await host.call(Reset, undefined);
    expect(auth.pinState).toMatchObject({ pinSet: false, credentials: 0, pinRetries: 8 });
  });
});

describe('VirtualAuthenticator: makeCredential / getAssertion (CTAP 2.1 §6.1, §6.2)', () => {
  it('creates an ES256 credential with packed self attestation and asserts with it; signCount grows', async () => {
    const { host } = make();
    const h = cdh('register');
    const mc = await host.call(MakeCredential, { clientDataHash: h, rp: { id: 'example.com', name: 'Example' }, user: { id: Uint8Array.of(7), name: 'alice' }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }] });
    expect(mc.fmt).toBe('packed');
    const ad = parseAuthData(mc.authData);
    expect(ad.up).toBe(true);
    expect(ad.uv).toBe(false);
    const acd = ad.attestedCredentialData!;
    const pub = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(acd.publicKey.get(-2) as Uint8Array).toString('base64url'), y: Buffer.from(acd.publicKey.get(-3) as Uint8Array).toString('base64url') }, format: 'jwk' });
    const v = createVerify('sha256');
    v.update(Buffer.concat([mc.authData, h]));
    expect(v.verify(pub, Buffer.from(mc.attStmt.get('sig') as Uint8Array))).toBe(true);

    const h2 = cdh('login');
    const ga = await host.call(GetAssertion, { rpId: 'example.com', clientDataHash: h2, allowList: [{ type: 'public-key', id: acd.credentialId }] });
    const gad = parseAuthData(ga.authData);
    expect(gad.signCount).toBeGreaterThan(ad.signCount);
    const v2 = createVerify('sha256');
    v2.update(Buffer.concat([ga.authData, h2]));
    expect(v2.verify(pub, Buffer.from(ga.signature))).toBe(true);
    expect(await host.status(GetAssertion, { rpId: 'other.com', clientDataHash: h2, allowList: [{ type: 'public-key', id: acd.credentialId }] })).toBe(CtapStatus.NO_CREDENTIALS);
  });

  it('requires a token once a PIN is set for discoverable credentials (0x36), verifies pinUvAuthParam (0x33) and sets UV', async () => {
    const { host } = make({ pin: '123456' });
    const h = cdh('rk');
    const base = { clientDataHash: h, rp: { id: 'example.com' }, user: { id: Uint8Array.of(1), name: 'bob' }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }], options: { rk: true } };
    expect(await host.status(MakeCredential, base)).toBe(CtapStatus.PUAT_REQUIRED);
    const t = (await host.token('123456', PinUvAuthPermission.makeCredential | PinUvAuthPermission.getAssertion, 'example.com')).token!;
    expect(await host.status(MakeCredential, { ...base, pinUvAuthProtocol: 2, pinUvAuthParam: new Uint8Array(32) })).toBe(CtapStatus.PIN_AUTH_INVALID);
    const mc = await host.call(MakeCredential, { ...base, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(t, h) });
    expect(parseAuthData(mc.authData).uv).toBe(true);
    // RP binding: the token now belongs to example.com
    expect(await host.status(MakeCredential, { ...base, rp: { id: 'evil.com' }, pinUvAuthProtocol: 2, pinUvAuthParam: host.pp.authenticate(t, h) })).toBe(CtapStatus.UNAUTHORIZED_PERMISSION);
  });

  it('serves several discoverable credentials through getNextAssertion', async () => {
    const { host } = make();
    for (const id of [1, 2, 3]) {
      await host.call(MakeCredential, { clientDataHash: cdh('r'), rp: { id: 'example.com' }, user: { id: Uint8Array.of(id) }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }], options: { rk: true } });
    }
    const first = await host.call(GetAssertion, { rpId: 'example.com', clientDataHash: cdh('l') });
    expect(first.numberOfCredentials).toBe(3);
    const second = await host.call(GetNextAssertion, undefined);
    const third = await host.call(GetNextAssertion, undefined);
    expect(new Set([first.user!.id[0], second.user!.id[0], third.user!.id[0]])).toEqual(new Set([1, 2, 3]));
    expect(await host.status(GetNextAssertion, undefined)).toBe(CtapStatus.NOT_ALLOWED);
  });

  it('denied touch → OPERATION_DENIED; the excluded credential → CREDENTIAL_EXCLUDED', async () => {
    const touch = new TouchController('auto');
    const { host } = make({ touch });
    const mc = await host.call(MakeCredential, { clientDataHash: cdh('a'), rp: { id: 'e.com' }, user: { id: Uint8Array.of(1) }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }] });
    const id = parseAuthData(mc.authData).attestedCredentialData!.credentialId;
    expect(await host.status(MakeCredential, { clientDataHash: cdh('a'), rp: { id: 'e.com' }, user: { id: Uint8Array.of(1) }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }], excludeList: [{ type: 'public-key', id }] })).toBe(
      CtapStatus.CREDENTIAL_EXCLUDED,
    );
    touch.next('deny');
    expect(await host.status(GetAssertion, { rpId: 'e.com', clientDataHash: cdh('b'), allowList: [{ type: 'public-key', id }] })).toBe(CtapStatus.OPERATION_DENIED);
    expect(await host.status(MakeCredential, { clientDataHash: cdh('a'), rp: { id: 'e.com' }, user: { id: Uint8Array.of(1) }, pubKeyCredParams: [{ type: 'public-key', alg: -8 }] })).toBe(CtapStatus.UNSUPPORTED_ALGORITHM);
  });
});

describe('VirtualAuthenticator: selection and unknown commands', () => {
  it('selection waits for touch on CTAP 2.1 and is INVALID_COMMAND on CTAP 2.0', async () => {
    expect(await make().host.status(Selection, undefined)).toBe(0);
    expect(await make({ profile: 'solo-1' }).host.status(Selection, undefined)).toBe(CtapStatus.INVALID_COMMAND);
    const { auth } = make();
    expect([...(await auth.handle(Uint8Array.of(0x42)))]).toEqual([CtapStatus.INVALID_COMMAND]);
    expect([...(await auth.handle(Uint8Array.of(0x06, 0xff)))]).toEqual([CtapStatus.INVALID_CBOR]);
  });
});

describe('VirtualAuthenticator: persistent vs power-cycle state (DESIGN.md §7)', () => {
  it('a new authenticator on the same storage keeps PIN, retries and credentials, not the soft block', async () => {
    const storage = new MemoryStorage();
    const profile = loadProfile();
    const first = new VirtualAuthenticator({ profile, env: createSimEnv({ storage }), initialPin: Pin.fromString('123456') });
    const h1 = new TestHost(first, 2);
    for (let i = 0; i < 3; i++) await h1.token('000000');
    expect(await h1.retries()).toEqual({ pinRetries: 5, powerCycleState: true });
    // "re-plug": a new instance over the same persistent storage; initialPin is ignored now
    const second = new VirtualAuthenticator({ profile, env: createSimEnv({ storage }), initialPin: Pin.fromString('999999') });
    const h2 = new TestHost(second, 2);
    expect(await h2.retries()).toEqual({ pinRetries: 5, powerCycleState: false });
    expect((await h2.token('123456')).status).toBe(0);
    expect(second.pinState).toMatchObject({ pinSet: true, pinRetries: 8, consecutiveMismatches: 0 });
  });
});

describe('VirtualAuthenticator: every shipped profile (fido.md §14 behaviour settings)', () => {
  for (const name of listProfiles()) {
    it(`${name}: getInfo round-trips the codec; lockout sequence and reset window follow the profile`, async () => {
      const profile = loadProfile(name);
      const protocol = (profile.getInfo.pinUvAuthProtocols ?? [1])[0] as 1 | 2;
      const { host, auth, clock } = make({ profile: name, protocol });
      const info = await host.getInfo();
      expect(info.versions).toEqual(profile.getInfo.versions);
      expect(Buffer.from(info.aaguid).toString('hex')).toBe(profile.getInfo.aaguid);
      expect(info.options?.clientPin).toBe(false);
      expect(await host.setPin('123456')).toBe(0);
      const b = profile.behaviour;
      const pcs = (v: boolean) => (b.powerCycleState === 'reported' ? { powerCycleState: v } : {});
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await host.token('000000')).status);
      expect(statuses).toEqual([0x31, 0x31, b.thirdWrongPinStatus, 0x34]);
      expect(await host.retries()).toEqual({ pinRetries: b.maxPinRetries - 3, ...pcs(true) });
      auth.powerCycle();
      expect((await host.token('123456')).status).toBe(0);
      expect(await host.retries()).toEqual({ pinRetries: b.maxPinRetries, ...pcs(false) });
      clock.advance(b.resetWindowMs + 1);
      expect(await host.status(Reset, undefined)).toBe(CtapStatus.NOT_ALLOWED);
      auth.powerCycle();
      expect(await host.status(Reset, undefined)).toBe(0);
      const noPin = await host.status(ClientPin, { subCommand: ClientPinSubcommand.getPINRetries });
      expect(noPin).toBe(b.pinRetriesWithoutPin === 'error-0x35' ? CtapStatus.PIN_NOT_SET : 0);
    });
  }
});
