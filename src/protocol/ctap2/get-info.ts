/**
 * authenticatorGetInfo (0x04; CTAP 2.1 §6.4, CTAP 2.2 adds 0x15–0x1F). The decoder accepts
 * non-canonical CBOR (a Nitrokey FIDO2 sends it) and reports it in `canonical`; members it
 * does not know are kept in `unknown` and re-encoded.
 */
import { encodeCbor, type CborMap, type CborValue } from '../cbor.ts';
import type { CtapCommand } from './command.ts';
import { ctapMap, decodeCtapMap, Fields, recordToMap, stripUndefined } from './fields.ts';

/** `{type: "public-key", alg: -7}` (WebAuthn PublicKeyCredentialParameters). */
export interface PublicKeyCredentialParameters {
  type: string;
  alg: number;
}

/** getInfo response members (CTAP 2.1 §6.4 / CTAP 2.2 §6.4), camelCase as in the spec. */
export interface AuthenticatorInfo {
  /** 0x01, e.g. `FIDO_2_0`, `FIDO_2_1`. */
  versions: string[];
  /** 0x02 */
  extensions?: string[];
  /** 0x03, 16 bytes. */
  aaguid: Uint8Array;
  /** 0x04: clientPin absent = unsupported, false = supported but not set (fido.md §8). */
  options?: Record<string, boolean>;
  /** 0x05 */
  maxMsgSize?: number;
  /** 0x06, in the device's order of preference. */
  pinUvAuthProtocols?: number[];
  /** 0x07 */
  maxCredentialCountInList?: number;
  /** 0x08 */
  maxCredentialIdLength?: number;
  /** 0x09 */
  transports?: string[];
  /** 0x0A */
  algorithms?: PublicKeyCredentialParameters[];
  /** 0x0B */
  maxSerializedLargeBlobArray?: number;
  /** 0x0C */
  forcePINChange?: boolean;
  /** 0x0D, default 4. */
  minPINLength?: number;
  /** 0x0E */
  firmwareVersion?: number;
  /** 0x0F */
  maxCredBlobLength?: number;
  /** 0x10 */
  maxRPIDsForSetMinPINLength?: number;
  /** 0x11 */
  preferredPlatformUvAttempts?: number;
  /** 0x12 */
  uvModality?: number;
  /** 0x13 */
  certifications?: Record<string, number>;
  /** 0x14 */
  remainingDiscoverableCredentials?: number;
  /** 0x15 */
  vendorPrototypeConfigCommands?: number[];
  /** 0x16 */
  attestationFormats?: string[];
  /** 0x17 */
  uvCountSinceLastPinEntry?: number;
  /** 0x18 */
  longTouchForReset?: boolean;
  /** 0x19, encrypted; changes every power cycle. */
  encIdentifier?: Uint8Array;
  /** 0x1A */
  transportsForReset?: string[];
  /** 0x1B */
  pinComplexityPolicy?: boolean;
  /** 0x1C */
  pinComplexityPolicyURL?: Uint8Array;
  /** 0x1D, default 63 (CTAP 2.2). */
  maxPINLength?: number;
  /** 0x1E, encrypted; changes every power cycle. */
  encCredStoreState?: Uint8Array;
  /** 0x1F */
  authenticatorConfigCommands?: number[];
  /** Members with keys not listed above, as received. */
  unknown: CborMap;
  /** Whether the device's CBOR was CTAP2 canonical (informational; always true when encoding). */
  canonical: boolean;
}

/** getInfo keys (CTAP 2.1 §6.4). */
export const GetInfoKey = {
  versions: 0x01,
  extensions: 0x02,
  aaguid: 0x03,
  options: 0x04,
  maxMsgSize: 0x05,
  pinUvAuthProtocols: 0x06,
  maxCredentialCountInList: 0x07,
  maxCredentialIdLength: 0x08,
  transports: 0x09,
  algorithms: 0x0a,
  maxSerializedLargeBlobArray: 0x0b,
  forcePINChange: 0x0c,
  minPINLength: 0x0d,
  firmwareVersion: 0x0e,
  maxCredBlobLength: 0x0f,
  maxRPIDsForSetMinPINLength: 0x10,
  preferredPlatformUvAttempts: 0x11,
  uvModality: 0x12,
  certifications: 0x13,
  remainingDiscoverableCredentials: 0x14,
  vendorPrototypeConfigCommands: 0x15,
  attestationFormats: 0x16,
  uvCountSinceLastPinEntry: 0x17,
  longTouchForReset: 0x18,
  encIdentifier: 0x19,
  transportsForReset: 0x1a,
  pinComplexityPolicy: 0x1b,
  pinComplexityPolicyURL: 0x1c,
  maxPINLength: 0x1d,
  encCredStoreState: 0x1e,
  authenticatorConfigCommands: 0x1f,
} as const;

const K = GetInfoKey;
const NAME = 'authenticatorGetInfo';

/** Decodes a getInfo response body (no status byte). Throws `Ctap2FieldError` naming a mistyped member. */
export function decodeAuthenticatorInfo(body: Uint8Array): AuthenticatorInfo {
  const { map, canonical } = decodeCtapMap(body, `${NAME} response`);
  const f = new Fields(map, `${NAME} response`);
  const texts = (key: number, name: string) => f.optArray(key, name, (v, at) => at.text(v));
  const uints = (key: number, name: string) => f.optArray(key, name, (v, at) => at.uint(v));
  const certs = f.optMap(K.certifications, 'certifications');
  let certifications: Record<string, number> | undefined;
  if (certs) {
    certifications = {};
    for (const [k, v] of certs.map) {
      if (typeof k !== 'string') continue; // not in the spec; keep decoding the rest
      certifications[k] = certs.expect(v, k, undefined, 'an unsigned integer', (x): x is number => typeof x === 'number' && Number.isSafeInteger(x));
    }
  }
  const info: AuthenticatorInfo = {
    versions: f.array(K.versions, 'versions', (v, at) => at.text(v)),
    extensions: texts(K.extensions, 'extensions'),
    aaguid: f.bytes(K.aaguid, 'aaguid'),
    options: f.optBoolRecord(K.options, 'options'),
    maxMsgSize: f.optUint(K.maxMsgSize, 'maxMsgSize'),
    pinUvAuthProtocols: uints(K.pinUvAuthProtocols, 'pinUvAuthProtocols'),
    maxCredentialCountInList: f.optUint(K.maxCredentialCountInList, 'maxCredentialCountInList'),
    maxCredentialIdLength: f.optUint(K.maxCredentialIdLength, 'maxCredentialIdLength'),
    transports: texts(K.transports, 'transports'),
    algorithms: f.optArray(K.algorithms, 'algorithms', (v, at) => {
      const m = at.map(v);
      return { type: m.text('type', 'type'), alg: m.int('alg', 'alg') };
    }),
    maxSerializedLargeBlobArray: f.optUint(K.maxSerializedLargeBlobArray, 'maxSerializedLargeBlobArray'),
    forcePINChange: f.optBool(K.forcePINChange, 'forcePINChange'),
    minPINLength: f.optUint(K.minPINLength, 'minPINLength'),
    firmwareVersion: f.optUint(K.firmwareVersion, 'firmwareVersion'),
    maxCredBlobLength: f.optUint(K.maxCredBlobLength, 'maxCredBlobLength'),
    maxRPIDsForSetMinPINLength: f.optUint(K.maxRPIDsForSetMinPINLength, 'maxRPIDsForSetMinPINLength'),
    preferredPlatformUvAttempts: f.optUint(K.preferredPlatformUvAttempts, 'preferredPlatformUvAttempts'),
    uvModality: f.optUint(K.uvModality, 'uvModality'),
    certifications,
    remainingDiscoverableCredentials: f.optUint(K.remainingDiscoverableCredentials, 'remainingDiscoverableCredentials'),
    vendorPrototypeConfigCommands: uints(K.vendorPrototypeConfigCommands, 'vendorPrototypeConfigCommands'),
    attestationFormats: texts(K.attestationFormats, 'attestationFormats'),
    uvCountSinceLastPinEntry: f.optUint(K.uvCountSinceLastPinEntry, 'uvCountSinceLastPinEntry'),
    longTouchForReset: f.optBool(K.longTouchForReset, 'longTouchForReset'),
    encIdentifier: f.optBytes(K.encIdentifier, 'encIdentifier'),
    transportsForReset: texts(K.transportsForReset, 'transportsForReset'),
    pinComplexityPolicy: f.optBool(K.pinComplexityPolicy, 'pinComplexityPolicy'),
    pinComplexityPolicyURL: f.optBytes(K.pinComplexityPolicyURL, 'pinComplexityPolicyURL'),
    maxPINLength: f.optUint(K.maxPINLength, 'maxPINLength'),
    encCredStoreState: f.optBytes(K.encCredStoreState, 'encCredStoreState'),
    authenticatorConfigCommands: uints(K.authenticatorConfigCommands, 'authenticatorConfigCommands'),
    unknown: f.unknown(Object.values(K)),
    canonical,
  };
  return stripUndefined(info);
}

/** Encodes a getInfo response body in canonical CBOR (`canonical` is ignored; `unknown` is kept). */
export function encodeAuthenticatorInfo(info: AuthenticatorInfo): Uint8Array {
  const entries: Array<[number, CborValue]> = [
    [K.versions, info.versions],
    [K.extensions, info.extensions],
    [K.aaguid, info.aaguid],
    [K.options, recordToMap(info.options)],
    [K.maxMsgSize, info.maxMsgSize],
    [K.pinUvAuthProtocols, info.pinUvAuthProtocols],
    [K.maxCredentialCountInList, info.maxCredentialCountInList],
    [K.maxCredentialIdLength, info.maxCredentialIdLength],
    [K.transports, info.transports],
    [K.algorithms, info.algorithms?.map((a) => new Map<string, CborValue>([['alg', a.alg], ['type', a.type]]))],
    [K.maxSerializedLargeBlobArray, info.maxSerializedLargeBlobArray],
    [K.forcePINChange, info.forcePINChange],
    [K.minPINLength, info.minPINLength],
    [K.firmwareVersion, info.firmwareVersion],
    [K.maxCredBlobLength, info.maxCredBlobLength],
    [K.maxRPIDsForSetMinPINLength, info.maxRPIDsForSetMinPINLength],
    [K.preferredPlatformUvAttempts, info.preferredPlatformUvAttempts],
    [K.uvModality, info.uvModality],
    [K.certifications, recordToMap(info.certifications)],
    [K.remainingDiscoverableCredentials, info.remainingDiscoverableCredentials],
    [K.vendorPrototypeConfigCommands, info.vendorPrototypeConfigCommands],
    [K.attestationFormats, info.attestationFormats],
    [K.uvCountSinceLastPinEntry, info.uvCountSinceLastPinEntry],
    [K.longTouchForReset, info.longTouchForReset],
    [K.encIdentifier, info.encIdentifier],
    [K.transportsForReset, info.transportsForReset],
    [K.pinComplexityPolicy, info.pinComplexityPolicy],
    [K.pinComplexityPolicyURL, info.pinComplexityPolicyURL],
    [K.maxPINLength, info.maxPINLength],
    [K.encCredStoreState, info.encCredStoreState],
    [K.authenticatorConfigCommands, info.authenticatorConfigCommands],
  ];
  const m = ctapMap(entries);
  for (const [k, v] of info.unknown ?? []) if (!m.has(k)) m.set(k, v);
  return encodeCbor(m);
}

/** The getInfo codec: no request parameters; the response is `AuthenticatorInfo`. */
export const GetInfo: CtapCommand<void, AuthenticatorInfo> = {
  code: 0x04,
  name: NAME,
  encodeRequest: () => new Uint8Array(0),
  decodeRequest: () => undefined,
  encodeResponse: encodeAuthenticatorInfo,
  decodeResponse: decodeAuthenticatorInfo,
};
