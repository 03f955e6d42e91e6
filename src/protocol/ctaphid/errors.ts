/**
 * CTAPHID error classes: `CtapHidError` is a CTAPHID_ERROR frame a device sent;
 * `CtapHidFramingError` is a framing problem found while encoding or assembling.
 */
import { DecodeError, KeytapError } from '../errors.ts';
import { ctapHidErrorName, CtapHidErrorCode } from './constants.ts';

/**
 * A device answered with CTAPHID_ERROR (CTAP 2.1 §11.2.9.1.6). `code` is `CTAPHID_<NAME>`
 * (`CTAPHID_CHANNEL_BUSY`), `CTAPHID_UNKNOWN` for unnamed codes; `details.hidError` is the byte.
 */
export class CtapHidError extends KeytapError {
  readonly hidError: number;
  constructor(hidError: number, context?: string, options?: { cause?: unknown }) {
    const name = ctapHidErrorName(hidError);
    super(
      `CTAPHID_${name.startsWith('0x') ? 'UNKNOWN' : name}`,
      `${context ? context + ': ' : ''}device sent CTAPHID_ERROR ${name} (0x${hidError.toString(16).padStart(2, '0')})`,
      { ...options, details: { hidError, hidErrorName: name } },
    );
    this.hidError = hidError;
  }
}

/**
 * Decodes a CTAPHID_ERROR payload (one byte) into its error code. Throws
 * `CtapHidFramingError` (CTAPHID_INVALID_LENGTH) when the payload is empty.
 */
export function decodeCtapHidErrorPayload(payload: Uint8Array): number {
  if (payload.length < 1) {
    throw new CtapHidFramingError('CTAPHID_INVALID_LENGTH', 'CTAPHID_ERROR payload is empty; expected 1 byte', {
      hidError: CtapHidErrorCode.INVALID_LEN,
    });
  }
  return payload[0]!;
}

/** Stable codes of `CtapHidFramingError`. */
export type CtapHidFramingCode =
  | 'CTAPHID_INVALID_SEQ'
  | 'CTAPHID_SPURIOUS_CONTINUATION'
  | 'CTAPHID_MESSAGE_TOO_LARGE'
  | 'CTAPHID_TIMEOUT'
  | 'CTAPHID_INVALID_LENGTH'
  | 'CTAPHID_CHANNEL_BUSY'
  | 'CTAPHID_INVALID_CHANNEL';

/**
 * A framing violation (CTAP 2.1 §11.2.4/§11.2.5). `details.hidError` is the CTAPHID error
 * code a device answers with (INVALID_SEQ, INVALID_LEN, MSG_TIMEOUT, CHANNEL_BUSY,
 * INVALID_CHANNEL); `details.cid` the channel when known.
 */
export class CtapHidFramingError extends DecodeError {
  declare readonly code: CtapHidFramingCode;
  readonly hidError: number;
  constructor(code: CtapHidFramingCode, message: string, details: { hidError: number; cid?: number; [k: string]: unknown }) {
    super(message, { code, details });
    this.hidError = details.hidError;
  }
}
