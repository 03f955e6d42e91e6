/**
 * CTAPHID_INIT codec (CTAP 2.1 §11.2.9.1.3). Request: an 8-byte nonce on the broadcast
 * channel. Response (17 bytes): nonce[8] | CID[4] | protocol version | major | minor |
 * build | capabilities.
 */
import { bytesEqual, readU32BE, writeU32BE } from '../../util/bytes.ts';
import {
  BROADCAST_CID,
  CTAPHID_INIT_NONCE_LENGTH,
  CTAPHID_INIT_RESPONSE_LENGTH,
  CTAPHID_PROTOCOL_VERSION,
  CtapHidCapability,
  CtapHidCmd,
  CtapHidErrorCode,
} from './constants.ts';
import { CtapHidFramingError } from './errors.ts';
import type { CtapHidMessage } from './assembler.ts';

/** A decoded INIT response. */
export interface CtapHidInitResponse {
  nonce: Uint8Array;
  /** The channel the device allocated. */
  cid: number;
  /** CTAPHID protocol version (2). */
  protocolVersion: number;
  versionMajor: number;
  versionMinor: number;
  versionBuild: number;
  /** Capability bits (`CtapHidCapability`). */
  capabilities: number;
  /** Decoded capability bits; `nmsg` means no CTAP1/U2F MSG. */
  wink: boolean;
  cbor: boolean;
  nmsg: boolean;
}

function lengthError(what: string, got: number, want: number): CtapHidFramingError {
  return new CtapHidFramingError('CTAPHID_INVALID_LENGTH', `${what} is ${got} bytes; expected ${want} (CTAP 2.1 §11.2.9.1.3)`, {
    hidError: CtapHidErrorCode.INVALID_LEN,
    length: got,
    expected: want,
  });
}

/** The INIT request payload: the 8-byte nonce (copied). Throws `RangeError` for another length. */
export function encodeInitRequest(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== CTAPHID_INIT_NONCE_LENGTH) throw new RangeError(`INIT nonce must be ${CTAPHID_INIT_NONCE_LENGTH} bytes, got ${nonce.length}`);
  return new Uint8Array(nonce);
}

/** Device side: the nonce of an INIT request. Throws CTAPHID_INVALID_LENGTH (hidError INVALID_LEN) unless 8 bytes. */
export function decodeInitRequest(payload: Uint8Array): Uint8Array {
  if (payload.length !== CTAPHID_INIT_NONCE_LENGTH) throw lengthError('INIT request', payload.length, CTAPHID_INIT_NONCE_LENGTH);
  return new Uint8Array(payload);
}

/** Input of `encodeInitResponse`. `protocolVersion` defaults to 2. */
export interface CtapHidInitResponseFields {
  nonce: Uint8Array;
  cid: number;
  protocolVersion?: number;
  versionMajor: number;
  versionMinor: number;
  versionBuild: number;
  capabilities: number;
}

/** Device side: the 17-byte INIT response. */
export function encodeInitResponse(r: CtapHidInitResponseFields): Uint8Array {
  if (r.nonce.length !== CTAPHID_INIT_NONCE_LENGTH) throw new RangeError(`INIT nonce must be ${CTAPHID_INIT_NONCE_LENGTH} bytes, got ${r.nonce.length}`);
  const out = new Uint8Array(CTAPHID_INIT_RESPONSE_LENGTH);
  out.set(r.nonce, 0);
  writeU32BE(out, 8, r.cid >>> 0);
  out[12] = r.protocolVersion ?? CTAPHID_PROTOCOL_VERSION;
  out[13] = r.versionMajor;
  out[14] = r.versionMinor;
  out[15] = r.versionBuild;
  out[16] = r.capabilities;
  return out;
}

/** Decodes a 17-byte INIT response; throws `CtapHidFramingError` CTAPHID_INVALID_LENGTH otherwise. */
export function decodeInitResponse(payload: Uint8Array): CtapHidInitResponse {
  if (payload.length !== CTAPHID_INIT_RESPONSE_LENGTH) throw lengthError('INIT response', payload.length, CTAPHID_INIT_RESPONSE_LENGTH);
  const capabilities = payload[16]!;
  return {
    nonce: payload.slice(0, 8),
    cid: readU32BE(payload, 8),
    protocolVersion: payload[12]!,
    versionMajor: payload[13]!,
    versionMinor: payload[14]!,
    versionBuild: payload[15]!,
    capabilities,
    wink: (capabilities & CtapHidCapability.WINK) !== 0,
    cbor: (capabilities & CtapHidCapability.CBOR) !== 0,
    nmsg: (capabilities & CtapHidCapability.NMSG) !== 0,
  };
}

/** Whether two INIT nonces are equal (nonces are not secret: plain comparison). */
export function nonceEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === CTAPHID_INIT_NONCE_LENGTH && bytesEqual(a, b);
}

/**
 * Host side: whether `message` is the reply to OUR INIT: on the broadcast channel (or on
 * `sentOnCid` when re-initialising an allocated channel), command INIT, 17 bytes, and the
 * same nonce. Other INIT replies belong to other processes and are ignored (Chromium
 * `ParseInitReply`; fido.md §1).
 */
export function isInitReplyFor(message: CtapHidMessage, nonce: Uint8Array, sentOnCid: number = BROADCAST_CID): boolean {
  return (
    message.cid === sentOnCid &&
    message.cmd === CtapHidCmd.INIT &&
    message.payload.length === CTAPHID_INIT_RESPONSE_LENGTH &&
    nonceEquals(message.payload.subarray(0, CTAPHID_INIT_NONCE_LENGTH), nonce)
  );
}
