/**
 * Authenticator data (WebAuthn L2 §6.1; CTAP 2.1 §6.1 response 0x02):
 *   rpIdHash[32] | flags[1] | signCount[4, BE] | attestedCredentialData? | extensions?
 *   attestedCredentialData = aaguid[16] | credentialIdLength[2, BE] | credentialId | COSE_Key
 */
import { decodeCborPrefix, encodeCbor, type CborMap } from '../cbor.ts';
import { DecodeError } from '../errors.ts';
import { concatBytes, readU32BE, writeU32BE } from '../../util/bytes.ts';

/** authData flag bits (WebAuthn L2 §6.1; BE/BS from WebAuthn L3). */
export const AuthDataFlag = {
  UP: 0x01,
  UV: 0x04,
  BE: 0x08,
  BS: 0x10,
  AT: 0x40,
  ED: 0x80,
} as const;

export interface AttestedCredentialData {
  aaguid: Uint8Array;
  credentialId: Uint8Array;
  /** The credential public key as a COSE_Key map (EC2, OKP or RSA). */
  publicKey: CborMap;
  /** The exact COSE_Key bytes as received. */
  publicKeyBytes: Uint8Array;
}

export interface AuthenticatorData {
  rpIdHash: Uint8Array;
  flags: number;
  /** Decoded flag bits. */
  up: boolean;
  uv: boolean;
  signCount: number;
  attestedCredentialData?: AttestedCredentialData;
  extensions?: CborMap;
}

/** Malformed authenticator data. Code `AUTH_DATA_MALFORMED`; `details.offset`. */
export class AuthDataError extends DecodeError {
  constructor(message: string, offset: number, cause?: unknown) {
    super(`authenticator data: ${message}`, { code: 'AUTH_DATA_MALFORMED', details: { offset }, cause });
  }
}

/** Decodes the first CBOR item of `bytes`, which must be a map, and its length. */
function decodeFirstItem(bytes: Uint8Array, offset: number, what: string): { value: CborMap; length: number } {
  let r;
  try {
    r = decodeCborPrefix(bytes);
  } catch (e) {
    throw new AuthDataError(`${what} is not valid CBOR`, offset, e);
  }
  if (!(r.value instanceof Map)) throw new AuthDataError(`${what} is not a CBOR map`, offset);
  return { value: r.value, length: r.length };
}

/** Parses authenticator data. Throws `AuthDataError` when truncated or inconsistent with its flags. */
export function parseAuthData(authData: Uint8Array): AuthenticatorData {
  if (authData.length < 37) throw new AuthDataError(`${authData.length} bytes is shorter than the 37-byte minimum`, 0);
  const flags = authData[32]!;
  const out: AuthenticatorData = {
    rpIdHash: authData.slice(0, 32),
    flags,
    up: (flags & AuthDataFlag.UP) !== 0,
    uv: (flags & AuthDataFlag.UV) !== 0,
    signCount: readU32BE(authData, 33),
  };
  let off = 37;
  if (flags & AuthDataFlag.AT) {
    if (authData.length < off + 18) throw new AuthDataError('attested credential data is truncated', off);
    const aaguid = authData.slice(off, off + 16);
    const idLen = (authData[off + 16]! << 8) | authData[off + 17]!;
    off += 18;
    if (authData.length < off + idLen) throw new AuthDataError(`credential ID of ${idLen} bytes is truncated`, off);
    const credentialId = authData.slice(off, off + idLen);
    off += idLen;
    const rest = authData.subarray(off);
    const { value, length } = decodeFirstItem(rest, off, 'credential public key');
    out.attestedCredentialData = { aaguid, credentialId, publicKey: value, publicKeyBytes: rest.slice(0, length) };
    off += length;
  }
  if (flags & AuthDataFlag.ED) {
    const rest = authData.subarray(off);
    if (rest.length === 0) throw new AuthDataError('ED flag set but no extensions follow', off);
    const { value, length } = decodeFirstItem(rest, off, 'extensions');
    out.extensions = value;
    off += length;
  }
  if (off !== authData.length) throw new AuthDataError(`${authData.length - off} unexpected trailing byte(s)`, off);
  return out;
}

/** Input of `encodeAuthData` (virtual authenticator). AT/ED flags are set from the members present. */
export interface AuthDataFields {
  rpIdHash: Uint8Array;
  /** Flag bits other than AT/ED (UP, UV, BE, BS). */
  flags: number;
  signCount: number;
  attestedCredentialData?: { aaguid: Uint8Array; credentialId: Uint8Array; publicKey: CborMap };
  extensions?: CborMap;
}

/** Builds authenticator data; the COSE key and extensions are encoded canonically. */
export function encodeAuthData(a: AuthDataFields): Uint8Array {
  if (a.rpIdHash.length !== 32) throw new RangeError('rpIdHash must be 32 bytes');
  let flags = a.flags & ~(AuthDataFlag.AT | AuthDataFlag.ED);
  const parts: Uint8Array[] = [];
  if (a.attestedCredentialData) {
    flags |= AuthDataFlag.AT;
    const { aaguid, credentialId, publicKey } = a.attestedCredentialData;
    if (aaguid.length !== 16) throw new RangeError('aaguid must be 16 bytes');
    if (credentialId.length > 0xffff) throw new RangeError('credential ID longer than 65535 bytes');
    parts.push(aaguid, Uint8Array.of(credentialId.length >> 8, credentialId.length & 0xff), credentialId, encodeCbor(publicKey));
  }
  if (a.extensions) {
    flags |= AuthDataFlag.ED;
    parts.push(encodeCbor(a.extensions));
  }
  const head = new Uint8Array(37);
  head.set(a.rpIdHash, 0);
  head[32] = flags;
  writeU32BE(head, 33, a.signCount >>> 0);
  return concatBytes(head, ...parts);
}
