/** CTAPHID_KEEPALIVE payload (CTAP 2.1 §11.2.9.1.5): one status byte. */
import { CtapHidErrorCode, KeepaliveStatus } from './constants.ts';
import { CtapHidFramingError } from './errors.ts';

/** `processing` (1), `upneeded` (2: touch the key), or `unknown` for other values (future statuses). */
export type KeepaliveState = 'processing' | 'upneeded' | 'unknown';

/** Decoded keepalive: the state and the raw byte. */
export interface Keepalive {
  state: KeepaliveState;
  status: number;
}

/** Decodes a keepalive payload; an empty one throws CTAPHID_INVALID_LENGTH. */
export function decodeKeepalive(payload: Uint8Array): Keepalive {
  if (payload.length < 1) {
    throw new CtapHidFramingError('CTAPHID_INVALID_LENGTH', 'KEEPALIVE payload is empty; expected 1 byte', { hidError: CtapHidErrorCode.INVALID_LEN });
  }
  const status = payload[0]!;
  const state: KeepaliveState = status === KeepaliveStatus.PROCESSING ? 'processing' : status === KeepaliveStatus.UPNEEDED ? 'upneeded' : 'unknown';
  return { state, status };
}

/** Device side: the 1-byte keepalive payload. */
export function encodeKeepalive(status: (typeof KeepaliveStatus)[keyof typeof KeepaliveStatus]): Uint8Array {
  return Uint8Array.of(status);
}
