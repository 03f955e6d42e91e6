import { createECDH, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ClientPin, ClientPinSubcommand, PinUvAuthPermission, type ClientPinRequest } from '../../../src/protocol/ctap2/client-pin.ts';
import { MakeCredential, type MakeCredentialRequest } from '../../../src/protocol/ctap2/make-credential.ts';
import { GetAssertion, GetNextAssertion, type GetAssertionRequest, type GetAssertionResponse } from '../../../src/protocol/ctap2/get-assertion.ts';
import { Reset } from '../../../src/protocol/ctap2/reset.ts';
import { Selection } from '../../../src/protocol/ctap2/selection.ts';
import { AuthenticatorConfig, ConfigSubcommand, configAuthMessage, decodeSetMinPinLengthParams, encodeSetMinPinLengthParams } from '../../../src/protocol/ctap2/config.ts';
import { frameRequest, frameResponse, parseRequest, parseResponse } from '../../../src/protocol/ctap2/frame.ts';
import { AuthDataError, AuthDataFlag, encodeAuthData, parseAuthData } from '../../../src/protocol/ctap2/auth-data.ts';
import { Ctap2FieldError } from '../../../src/protocol/ctap2/fields.ts';
import { CtapError, CtapStatus } from '../../../src/protocol/ctap2/status.ts';
import type { CtapCommand } from '../../../src/protocol/ctap2/command.ts';
import { CoseKeyError, assertP256OnCurve, coseEc2KeyFromUncompressed, decodeCoseEc2Key, encodeCoseEc2Key, isP256PointOnCurve, p256UncompressedPoint } from '../../../src/protocol/cose.ts';
import { decodeCbor, encodeCbor } from '../../../src/protocol/cbor.ts';
import { DecodeError, KeytapError } from '../../../src/protocol/errors.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';
import { reassemble } from './helpers/wiredata.ts';

const W2020 = 'libfido2-wiredata-fido2-2020.txt';
const REGRESS = 'libfido2-regress-cred.txt';

function p256Key(alg = -25) {
  const e = createECDH('prime256v1');
  e.generateKeys();
  return coseEc2KeyFromUncompressed(new Uint8Array(e.getPublicKey()), alg);
}

/** Host→device and device→host through the same codec object. */
function roundTrip<Req, Res>(cmd: CtapCommand<Req, Res>, req: Req, res: Res): void {
  const framed = frameRequest(cmd, req);
  const { code, params } = parseRequest(framed);
  expect(code).toBe(cmd.code);
  expect(cmd.decodeRequest(params)).toEqual(req);
  expect(parseResponse(cmd, frameResponse(CtapStatus.OK, cmd.encodeResponse(res)))).toEqual(res);
}

describe('CTAP2 framing (CTAP 2.1 §8.1)', () => {
  it('parseResponse throws CtapError with the status for a status-only error reply', () => {
    // Synthesised frame 00220002 90 0001 31 (fido.md §15): PIN_INVALID.
    try {
      parseResponse(ClientPin, fromHex('31'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CtapError);
      expect((e as CtapError).code).toBe('CTAP_PIN_INVALID');
      expect((e as CtapError).status).toBe(0x31);
      expect((e as CtapError).details).toMatchObject({ ctapStatus: 0x31 });
    }
  });

  it('accepts a status-only OK and an empty map alike (fido.md §14.5)', async () => {
    const status = await reassemble(W2020, 'WIREDATA_CTAP_CBOR_STATUS');
    expect(toHex(status.payload)).toBe('00');
    expect(parseResponse(ClientPin, status.payload)).toEqual({});
    expect(parseResponse(ClientPin, fromHex('00a0'))).toEqual({});
    expect(parseResponse(Reset, status.payload)).toBeUndefined();
    expect(parseResponse(Selection, fromHex('00a0'))).toBeUndefined();
    expect(parseResponse(AuthenticatorConfig, status.payload)).toBeUndefined();
  });

  it('rejects empty replies and requests with DecodeError', () => {
    expect(() => parseResponse(Reset, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'CTAP2_EMPTY_RESPONSE' }));
    expect(() => parseRequest(new Uint8Array(0))).toThrow(DecodeError);
    expect(toHex(frameResponse(0x31))).toBe('31');
    expect(toHex(frameResponse(0, new Uint8Array(0)))).toBe('00');
  });

  it('frames parameterless commands as one byte (reset 0x07, selection 0x0B, getNextAssertion 0x08)', () => {
    expect(toHex(frameRequest(Reset, undefined))).toBe('07');
    expect(toHex(frameRequest(Selection, undefined))).toBe('0b');
    expect(toHex(frameRequest(GetNextAssertion, undefined))).toBe('08');
  });
});

describe('clientPIN codec (CTAP 2.1 §6.5.5)', () => {
  it('has the subcommand and permission values of fido.md §4', () => {
    expect(ClientPinSubcommand).toEqual({
      getPINRetries: 1, getKeyAgreement: 2, setPIN: 3, changePIN: 4, getPinToken: 5,
      getPinUvAuthTokenUsingUvWithPermissions: 6, getUVRetries: 7, getPinUvAuthTokenUsingPinWithPermissions: 9,
    });
    expect(PinUvAuthPermission.authenticatorConfig).toBe(0x20);
  });

  it('encodes getPINRetries as {1: 1, 2: 1} with integer keys in canonical order', () => {
    expect(toHex(frameRequest(ClientPin, { pinUvAuthProtocol: 1, subCommand: ClientPinSubcommand.getPINRetries }))).toBe('06a201010201');
  });

  it.each<[string, ClientPinRequest]>([
    ['getPINRetries', { pinUvAuthProtocol: 2, subCommand: 1 }],
    ['getKeyAgreement', { pinUvAuthProtocol: 2, subCommand: 2 }],
    ['setPIN', { pinUvAuthProtocol: 1, subCommand: 3, keyAgreement: p256Key(), newPinEnc: new Uint8Array(64).fill(1), pinUvAuthParam: new Uint8Array(16).fill(2) }],
    ['changePIN', { pinUvAuthProtocol: 2, subCommand: 4, keyAgreement: p256Key(), newPinEnc: new Uint8Array(80), pinHashEnc: new Uint8Array(32), pinUvAuthParam: new Uint8Array(32) }],
    ['getPinToken', { pinUvAuthProtocol: 1, subCommand: 5, keyAgreement: p256Key(), pinHashEnc: new Uint8Array(16) }],
    ['getPinUvAuthTokenUsingUvWithPermissions', { pinUvAuthProtocol: 2, subCommand: 6, keyAgreement: p256Key(), permissions: 0x03, rpId: 'example.com' }],
    ['getUVRetries', { pinUvAuthProtocol: 2, subCommand: 7 }],
    ['getPinUvAuthTokenUsingPinWithPermissions', { pinUvAuthProtocol: 2, subCommand: 9, keyAgreement: p256Key(), pinHashEnc: new Uint8Array(32), permissions: 0x20 }],
  ])('round-trips %s both ways', (_n, req) => {
    roundTrip(ClientPin, req, { keyAgreement: p256Key(), pinUvAuthToken: new Uint8Array(48), pinRetries: 8, powerCycleState: false, uvRetries: 3 });
  });

  it('puts request members under the fido.md §4 keys', () => {
    const m = decodeCbor(ClientPin.encodeRequest({ pinUvAuthProtocol: 2, subCommand: 9, keyAgreement: p256Key(), pinHashEnc: new Uint8Array(32), permissions: 1, rpId: 'a', pinUvAuthParam: new Uint8Array(1), newPinEnc: new Uint8Array(2) })) as Map<number, unknown>;
    expect([...m.keys()]).toEqual([1, 2, 3, 4, 5, 6, 9, 10]);
    expect(toHex(m.get(5) as Uint8Array)).toBe('0000');
  });

  it('decodes the real getKeyAgreement reply (WIREDATA_CTAP_CBOR_AUTHKEY), a point on P-256', async () => {
    const msg = await reassemble(W2020, 'WIREDATA_CTAP_CBOR_AUTHKEY');
    const res = parseResponse(ClientPin, msg.payload);
    expect(res.keyAgreement).toMatchObject({ kty: 2, alg: -25, crv: 1 });
    expect(toHex(res.keyAgreement!.x)).toBe('2ab82d3669ab309de35e9bfb94fc1d9295af0147fe4b87e5cf3f050b39da1749');
    expect(() => assertP256OnCurve(res.keyAgreement!)).not.toThrow();
    expect(toHex(ClientPin.encodeResponse(res))).toBe(toHex(msg.payload.subarray(1)));
  });

  it('decodes the real token reply (WIREDATA_CTAP_CBOR_PINTOKEN): 16-byte encrypted token', async () => {
    const res = parseResponse(ClientPin, (await reassemble(W2020, 'WIREDATA_CTAP_CBOR_PINTOKEN')).payload);
    expect(toHex(res.pinUvAuthToken!)).toBe('ee404c85d7a12f56c44ec59341d03b23');
  });

  it('decodes the real retries reply (WIREDATA_CTAP_CBOR_RETRIES): {3: 8}', async () => {
    expect(parseResponse(ClientPin, (await reassemble(W2020, 'WIREDATA_CTAP_CBOR_RETRIES')).payload)).toEqual({ pinRetries: 8 });
  });

  it('decodes synthesised retries with powerCycleState and UV retries (fido.md §15)', () => {
    expect(parseResponse(ClientPin, fromHex('00a20305' + '04f5'))).toEqual({ pinRetries: 5, powerCycleState: true });
    expect(parseResponse(ClientPin, fromHex('00a10503'))).toEqual({ uvRetries: 3 });
  });

  it('rejects a malformed COSE key with INVALID_PARAMETER and a wrong-typed member naming it', () => {
    const bad = encodeCbor(new Map<number, unknown>([[1, new Map<number, unknown>([[1, 2], [3, -25], [-1, 1], [-2, new Uint8Array(31)], [-3, new Uint8Array(32)]])]]) as never);
    expect(() => ClientPin.decodeResponse(bad)).toThrow(expect.objectContaining({ field: 'keyAgreement', status: CtapStatus.INVALID_PARAMETER }));
    expect(() => ClientPin.decodeResponse(encodeCbor(new Map([[3, 'eight']])))).toThrow(expect.objectContaining({ field: 'pinRetries' }));
    expect(() => ClientPin.decodeRequest(encodeCbor(new Map([[1, 1]])))).toThrow(expect.objectContaining({ field: 'subCommand', status: CtapStatus.MISSING_PARAMETER }));
  });
});

describe('COSE EC2 keys (RFC 9053; CTAP 2.1 §6.5.6)', () => {
  it('encodes {1:2, 3:-25, -1:1, -2:x, -3:y} canonically', () => {
    const k = p256Key();
    const hex = toHex(encodeCbor(encodeCoseEc2Key(k)));
    expect(hex.startsWith('a5010203381820012158200'.slice(0, 20))).toBe(true);
    expect(decodeCoseEc2Key(decodeCbor(fromHex(hex)))).toEqual(k);
    expect(toHex(p256UncompressedPoint(k)).slice(0, 2)).toBe('04');
  });

  it('checks the point is on P-256 (Chromium does; fido.md §4)', () => {
    const k = p256Key();
    expect(isP256PointOnCurve(k.x, k.y)).toBe(true);
    const y = new Uint8Array(k.y);
    y[31] ^= 1;
    expect(isP256PointOnCurve(k.x, y)).toBe(false);
    try {
      assertP256OnCurve({ ...k, y });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CoseKeyError);
      expect((e as CoseKeyError).name).toBe('CoseKeyError');
      expect((e as CoseKeyError).code).toBe('COSE_KEY_INVALID');
      expect((e as CoseKeyError).details).toMatchObject({ reason: 'not-on-curve' });
    }
  });

  it.each([
    ['kty', new Map<number, unknown>([[1, 1], [3, -25], [-1, 1], [-2, new Uint8Array(32)], [-3, new Uint8Array(32)]])],
    ['crv', new Map<number, unknown>([[1, 2], [3, -25], [-1, 2], [-2, new Uint8Array(32)], [-3, new Uint8Array(32)]])],
    ['y', new Map<number, unknown>([[1, 2], [3, -25], [-1, 1], [-2, new Uint8Array(32)]])],
  ])('rejects a COSE key with a bad %s', (_what, m) => {
    expect(() => decodeCoseEc2Key(m as never)).toThrow(CoseKeyError);
  });
});

describe('makeCredential codec (CTAP 2.1 §6.1) and authData', () => {
  const req: MakeCredentialRequest = {
    clientDataHash: new Uint8Array(32).fill(9),
    rp: { id: 'example.com', name: 'Example' },
    user: { id: fromHex('0102'), name: 'alice', displayName: 'Alice' },
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -8 }],
    excludeList: [{ type: 'public-key', id: fromHex('aabb'), transports: ['usb'] }],
    extensions: new Map([['credProtect', 2]]),
    options: { rk: true },
    pinUvAuthParam: new Uint8Array(32),
    pinUvAuthProtocol: 2,
    enterpriseAttestation: 1,
  };

  it('round-trips every member both ways', () => {
    const authData = encodeAuthData({ rpIdHash: new Uint8Array(32), flags: AuthDataFlag.UP, signCount: 1 });
    roundTrip(MakeCredential, req, { fmt: 'packed', authData, attStmt: new Map<string, never>([['alg', -7 as never]]), epAtt: true, largeBlobKey: new Uint8Array(32), unsignedExtensionOutputs: new Map() });
    const minimal = { clientDataHash: req.clientDataHash, rp: { id: 'x' }, user: { id: fromHex('01') }, pubKeyCredParams: [{ type: 'public-key', alg: -7 }] };
    roundTrip(MakeCredential, minimal, { fmt: 'none', authData, attStmt: new Map() });
  });

  it('encodes request keys 0x01–0x0A and the entity members as text keys', () => {
    const m = decodeCbor(MakeCredential.encodeRequest(req)) as Map<number, unknown>;
    expect([...m.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([...(m.get(2) as Map<string, unknown>).keys()]).toEqual(['id', 'name']);
  });

  it('rejects a request without clientDataHash, and a user id that is not bytes', () => {
    const m = decodeCbor(MakeCredential.encodeRequest(req)) as Map<number, unknown>;
    m.delete(1);
    expect(() => MakeCredential.decodeRequest(encodeCbor(m as never))).toThrow(expect.objectContaining({ field: 'clientDataHash', status: CtapStatus.MISSING_PARAMETER }));
    const m2 = decodeCbor(MakeCredential.encodeRequest(req)) as Map<number, unknown>;
    (m2.get(3) as Map<string, unknown>).set('id', 'alice');
    expect(() => MakeCredential.decodeRequest(encodeCbor(m2 as never))).toThrow(expect.objectContaining({ field: 'user.id' }));
  });

  it('decodes the real makeCredential (WIREDATA_CTAP_CBOR_CRED): packed, flags 0x45', async () => {
    const msg = await reassemble(W2020, 'WIREDATA_CTAP_CBOR_CRED');
    expect(msg.payload.length).toBe(993);
    const res = parseResponse(MakeCredential, msg.payload);
    expect(res.fmt).toBe('packed');
    const ad = parseAuthData(res.authData);
    expect(ad.flags).toBe(0x45);
    expect(ad.up && ad.uv).toBe(true);
    expect(ad.attestedCredentialData?.publicKey.get(1)).toBe(2);
    expect(res.attStmt.get('alg')).toBe(-7);
    expect(res.attStmt.get('sig')).toBeInstanceOf(Uint8Array);
    expect(toHex(MakeCredential.encodeResponse(res))).toBe(toHex(msg.payload.subarray(1)));
  });

  it('decodes the regress makeCredential for rp "localhost" (flags 0x41) and its authData', async () => {
    const res = parseResponse(MakeCredential, (await reassemble(REGRESS, 'REGRESS_WIREDATA_MAKECRED')).payload);
    const ad = parseAuthData(res.authData);
    expect(ad.flags).toBe(0x41);
    expect(toHex(ad.rpIdHash)).toBe(createHash('sha256').update('localhost').digest('hex'));
    const acd = ad.attestedCredentialData!;
    expect(acd.aaguid.length).toBe(16);
    const key = decodeCoseEc2Key(acd.publicKey, 'credentialPublicKey');
    expect(key.alg).toBe(-7);
    expect(isP256PointOnCurve(key.x, key.y)).toBe(true);
    expect(toHex(encodeCbor(acd.publicKey))).toBe(toHex(acd.publicKeyBytes));
    // Rebuilding authData from the parts gives the same bytes.
    expect(toHex(encodeAuthData({ rpIdHash: ad.rpIdHash, flags: ad.flags, signCount: ad.signCount, attestedCredentialData: acd }))).toBe(toHex(res.authData));
  });

  it('decodes the enterprise-attestation capture with epAtt true', async () => {
    const res = parseResponse(MakeCredential, (await reassemble(REGRESS, 'REGRESS_WIREDATA_MAKECRED_ENTATTEST')).payload);
    expect(res.epAtt).toBe(true);
  });

  it('parses authData extensions and rejects truncation and trailing bytes', () => {
    const ext = new Map([['credProtect', 2]]);
    const pk = encodeCoseEc2Key(p256Key(-7));
    const ad = encodeAuthData({ rpIdHash: new Uint8Array(32).fill(1), flags: AuthDataFlag.UP | AuthDataFlag.UV, signCount: 0x01020304, attestedCredentialData: { aaguid: new Uint8Array(16), credentialId: fromHex('c0ffee'), publicKey: pk }, extensions: ext });
    const parsed = parseAuthData(ad);
    expect(parsed.flags).toBe(0xc5);
    expect(parsed.signCount).toBe(0x01020304);
    expect(toHex(parsed.attestedCredentialData!.credentialId)).toBe('c0ffee');
    expect(parsed.extensions).toEqual(ext);
    expect(() => parseAuthData(ad.subarray(0, 36))).toThrow(AuthDataError);
    expect(() => parseAuthData(ad.subarray(0, 60))).toThrow(AuthDataError);
    expect(() => parseAuthData(Uint8Array.from([...ad, 0]))).toThrow(AuthDataError);
    const e = new AuthDataError('x', 1);
    expect(e.name).toBe('AuthDataError');
    expect(e.code).toBe('AUTH_DATA_MALFORMED');
  });
});

describe('getAssertion / getNextAssertion codecs (CTAP 2.1 §6.2, §6.3)', () => {
  it('round-trips both ways', () => {
    const req: GetAssertionRequest = {
      rpId: 'example.com', clientDataHash: new Uint8Array(32), allowList: [{ type: 'public-key', id: fromHex('01') }],
      extensions: new Map([['hmac-secret', new Map()]]), options: { up: true, uv: true }, pinUvAuthParam: new Uint8Array(16), pinUvAuthProtocol: 1,
    };
    const res: GetAssertionResponse = {
      credential: { type: 'public-key', id: fromHex('01') }, authData: new Uint8Array(37), signature: new Uint8Array(70),
      user: { id: fromHex('02'), name: 'bob' }, numberOfCredentials: 2, userSelected: false, largeBlobKey: new Uint8Array(32),
    };
    roundTrip(GetAssertion, req, res);
    roundTrip(GetNextAssertion, undefined, { authData: new Uint8Array(37), signature: new Uint8Array(8) });
  });

  it('decodes the real getAssertion (WIREDATA_CTAP_CBOR_ASSERT): 64-byte credential id, counter 9', async () => {
    const res = parseResponse(GetAssertion, (await reassemble(W2020, 'WIREDATA_CTAP_CBOR_ASSERT')).payload);
    expect(res.credential?.id.length).toBe(64);
    expect(res.credential?.type).toBe('public-key');
    expect(parseAuthData(res.authData).signCount).toBe(9);
    expect(res.signature.length).toBeGreaterThan(60);
  });

  it('rejects a response without a signature', () => {
    expect(() => GetAssertion.decodeResponse(encodeCbor(new Map([[2, new Uint8Array(37)]])))).toThrow(expect.objectContaining({ field: 'signature' }));
  });
});

describe('authenticatorConfig codec (CTAP 2.1 §6.11)', () => {
  it('builds the pinUvAuthParam message 0xff×32 ‖ 0x0d ‖ subCmd ‖ cbor(params)', () => {
    const params = encodeSetMinPinLengthParams({ newMinPINLength: 6, minPinLengthRPIDs: ['example.com'], forceChangePin: true });
    const msg = configAuthMessage(ConfigSubcommand.setMinPINLength, params);
    expect(toHex(msg)).toBe('ff'.repeat(32) + '0d03' + toHex(encodeCbor(params)));
    expect(toHex(encodeCbor(params))).toBe('a3010602816b6578616d706c652e636f6d03f5');
    expect(toHex(configAuthMessage(ConfigSubcommand.toggleAlwaysUv))).toBe('ff'.repeat(32) + '0d02');
  });

  it('round-trips setMinPINLength, toggleAlwaysUv and enableEnterpriseAttestation', () => {
    const params = encodeSetMinPinLengthParams({ newMinPINLength: 8, forceChangePin: false });
    roundTrip(AuthenticatorConfig, { subCommand: ConfigSubcommand.setMinPINLength, subCommandParams: params, pinUvAuthProtocol: 2, pinUvAuthParam: new Uint8Array(32) }, undefined);
    roundTrip(AuthenticatorConfig, { subCommand: ConfigSubcommand.toggleAlwaysUv, pinUvAuthProtocol: 1, pinUvAuthParam: new Uint8Array(16) }, undefined);
    roundTrip(AuthenticatorConfig, { subCommand: ConfigSubcommand.enableEnterpriseAttestation }, undefined);
    expect(decodeSetMinPinLengthParams(params)).toEqual({ newMinPINLength: 8, forceChangePin: false });
    expect(() => decodeSetMinPinLengthParams(new Map([[1, 'six']]))).toThrow(expect.objectContaining({ field: 'subCommandParams.newMinPINLength' }));
  });
});

describe('error classes', () => {
  it('CtapError: name and code', () => {
    const e = new CtapError(0x34);
    expect(e).toBeInstanceOf(KeytapError);
    expect(e.name).toBe('CtapError');
    expect(e.code).toBe('CTAP_PIN_AUTH_BLOCKED');
  });

  it('Ctap2FieldError: name and code', () => {
    const e = new Ctap2FieldError('m', { command: 'c', field: 'f', status: 0x14 });
    expect(e.name).toBe('Ctap2FieldError');
    expect(e.code).toBe('CTAP2_INVALID_FIELD');
  });
});
