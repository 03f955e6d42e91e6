import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GetInfo, GetInfoKey, decodeAuthenticatorInfo, encodeAuthenticatorInfo, type AuthenticatorInfo } from '../../../src/protocol/ctap2/get-info.ts';
import { Ctap2FieldError } from '../../../src/protocol/ctap2/fields.ts';
import { frameRequest, parseResponse } from '../../../src/protocol/ctap2/frame.ts';
import { CtapStatus } from '../../../src/protocol/ctap2/status.ts';
import { encodeCbor, decodeCbor } from '../../../src/protocol/cbor.ts';
import { DecodeError, KeytapError } from '../../../src/protocol/errors.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';
import { reassemble } from './helpers/wiredata.ts';

interface Profile {
  model: string;
  cborHex?: string;
  cborCanonical?: boolean;
  getInfo: Record<string, unknown>;
}
const profiles = (JSON.parse(readFileSync(new URL('../../../fixtures/profiles/sources/getinfo-profiles.json', import.meta.url), 'utf8')) as { models: Profile[] }).models;
const raw = profiles.filter((p) => p.cborHex);

/** The profile JSON's view of an AuthenticatorInfo (aaguid hex, no unknown/canonical). */
function asJson(info: AuthenticatorInfo): Record<string, unknown> {
  const { unknown, canonical, ...rest } = info;
  void unknown;
  void canonical;
  return JSON.parse(JSON.stringify({ ...rest, aaguid: toHex(info.aaguid) }));
}

describe('getInfo codec (CTAP 2.1 §6.4)', () => {
  it('frames the request as the single byte 0x04', () => {
    expect(toHex(frameRequest(GetInfo, undefined))).toBe('04');
  });

  it('has profiles with raw getInfo captures to test against', () => {
    expect(raw.length).toBeGreaterThanOrEqual(6);
  });

  it.each(raw.map((p) => [p.model, p] as const))('decodes the raw capture of %s like the profile says', (_model, p) => {
    const info = decodeAuthenticatorInfo(fromHex(p.cborHex!));
    expect(info.canonical).toBe(p.cborCanonical);
    expect(asJson(info)).toEqual(p.getInfo);
    // Re-encoding is canonical, and canonical captures re-encode byte for byte.
    const again = encodeAuthenticatorInfo(info);
    if (p.cborCanonical) expect(toHex(again)).toBe(p.cborHex!.toLowerCase());
    const back = decodeAuthenticatorInfo(again);
    expect(back.canonical).toBe(true);
    expect(asJson(back)).toEqual(asJson(info));
  });

  it('accepts the non-canonical Nitrokey FIDO2 getInfo and reports canonical: false', () => {
    const nk = raw.find((p) => p.model.startsWith('Nitrokey'))!;
    const info = decodeAuthenticatorInfo(fromHex(nk.cborHex!));
    expect(info.canonical).toBe(false);
    expect(info.options).toMatchObject({ clientPin: true, credentialMgmtPreview: true });
    expect(info.maxCredentialCountInList).toBe(20);
  });

  it('decodes the real 2020 capture (libfido2 WIREDATA_CTAP_CBOR_INFO): up to FIDO_2_1_PRE, maxMsgSize 1200', async () => {
    const msg = await reassemble('libfido2-wiredata-fido2-2020.txt', 'WIREDATA_CTAP_CBOR_INFO');
    const info = parseResponse(GetInfo, msg.payload);
    expect(info.versions).toEqual(['U2F_V2', 'FIDO_2_0', 'FIDO_2_1_PRE']);
    expect(info.options?.clientPin).toBe(false);
    expect(info.maxMsgSize).toBe(1200);
    expect(info.pinUvAuthProtocols).toEqual([1]);
    expect(info.algorithms).toEqual([{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -8 }]);
    expect(info.canonical).toBe(true);
  });

  it('decodes the 2026 CTAP 2.3 getInfo with 26 keys incl. maxPINLength and transportsForReset', async () => {
    const msg = await reassemble('libfido2-wiredata-fido2-2026.txt', 'WIREDATA_CTAP_CBOR_INFO');
    expect(msg.payload.length).toBe(597);
    const info = parseResponse(GetInfo, msg.payload);
    const keys = [...(decodeCbor(msg.payload.subarray(1)) as Map<number, unknown>).keys()];
    expect(keys).toHaveLength(26);
    expect(info.versions).toContain('FIDO_2_3');
    expect(info.pinUvAuthProtocols).toEqual([2, 1]);
    expect(info.maxPINLength).toBe(63);
    expect(info.transportsForReset).toEqual(['usb', 'smart-card']);
    expect(info.authenticatorConfigCommands).toEqual([1, 2, 3]);
    expect(info.encIdentifier?.length).toBe(32);
    expect(info.unknown.size).toBe(0);
    expect(toHex(encodeAuthenticatorInfo(info))).toBe(toHex(msg.payload.subarray(1)));
  });

  it('keeps unknown keys and re-encodes them', () => {
    const body = encodeCbor(new Map<number, unknown>([[1, ['FIDO_2_1']], [3, new Uint8Array(16)], [0x30, 'future']]) as never);
    const info = decodeAuthenticatorInfo(body);
    expect(info.unknown.get(0x30)).toBe('future');
    expect(toHex(encodeAuthenticatorInfo(info))).toBe(toHex(body));
  });

  it('round-trips every member both ways', () => {
    const info: AuthenticatorInfo = {
      versions: ['FIDO_2_0', 'FIDO_2_1'], extensions: ['credProtect'], aaguid: fromHex('00112233445566778899aabbccddeeff'),
      options: { clientPin: true, uv: false, pinUvAuthToken: true }, maxMsgSize: 1200, pinUvAuthProtocols: [2, 1],
      maxCredentialCountInList: 8, maxCredentialIdLength: 128, transports: ['usb'], algorithms: [{ type: 'public-key', alg: -7 }],
      maxSerializedLargeBlobArray: 1024, forcePINChange: true, minPINLength: 6, firmwareVersion: 0x050704, maxCredBlobLength: 32,
      maxRPIDsForSetMinPINLength: 2, preferredPlatformUvAttempts: 3, uvModality: 2, certifications: { FIDO: 2 },
      remainingDiscoverableCredentials: 25, vendorPrototypeConfigCommands: [7], attestationFormats: ['packed', 'none'],
      uvCountSinceLastPinEntry: 1, longTouchForReset: true, encIdentifier: new Uint8Array(32).fill(1), transportsForReset: ['nfc'],
      pinComplexityPolicy: false, pinComplexityPolicyURL: new TextEncoder().encode('https://example.com'), maxPINLength: 32,
      encCredStoreState: new Uint8Array(32).fill(2), authenticatorConfigCommands: [1, 3], unknown: new Map(), canonical: true,
    };
    const keys = [...(decodeCbor(encodeAuthenticatorInfo(info)) as Map<number, unknown>).keys()];
    expect(keys).toEqual(Object.values(GetInfoKey));
    expect(GetInfo.decodeResponse(GetInfo.encodeResponse(info))).toEqual(info);
  });

  it.each([
    ['maxMsgSize', 0x05, 'big'],
    ['versions', 0x01, 'FIDO_2_0'],
    ['aaguid', 0x03, 'not bytes'],
    ['forcePINChange', 0x0c, 1],
    ['pinUvAuthProtocols[1]', 0x06, [1, 'two']],
    ['options.clientPin', 0x04, new Map([['clientPin', 1]])],
    ['algorithms[0].alg', 0x0a, [new Map([['type', 'public-key'], ['alg', 'ES256']])]],
  ])('rejects a wrong type with a Ctap2FieldError naming %s', (field, key, value) => {
    const m = new Map<number, unknown>([[1, ['FIDO_2_0']], [3, new Uint8Array(16)]]);
    m.set(key, value);
    try {
      decodeAuthenticatorInfo(encodeCbor(m as never));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(Ctap2FieldError);
      expect(e).toBeInstanceOf(DecodeError);
      const err = e as Ctap2FieldError;
      expect(err.name).toBe('Ctap2FieldError');
      expect(err.code).toBe('CTAP2_INVALID_FIELD');
      expect(err.field).toBe(field);
      expect(err.message).toContain(field);
      expect(err.status).toBe(CtapStatus.CBOR_UNEXPECTED_TYPE);
    }
  });

  it('rejects a getInfo without versions with MISSING_PARAMETER, and non-map CBOR', () => {
    expect(() => decodeAuthenticatorInfo(encodeCbor(new Map([[3, new Uint8Array(16)]])))).toThrow(
      expect.objectContaining({ field: 'versions', status: CtapStatus.MISSING_PARAMETER }),
    );
    expect(() => decodeAuthenticatorInfo(fromHex('83010203'))).toThrow(expect.objectContaining({ status: CtapStatus.CBOR_UNEXPECTED_TYPE }));
    expect(() => decodeAuthenticatorInfo(fromHex('a2'))).toThrow(expect.objectContaining({ code: 'CTAP2_INVALID_FIELD', status: CtapStatus.INVALID_CBOR }));
  });

  it('error classes are KeytapErrors', () => {
    expect(new Ctap2FieldError('x', { command: 'c', status: 0x11 })).toBeInstanceOf(KeytapError);
  });
});
