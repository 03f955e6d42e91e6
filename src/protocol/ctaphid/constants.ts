/**
 * CTAPHID constants (CTAP 2.1 §11.2 "USB Human Interface Device (USB HID)").
 * Spec spellings in `as const` tables; values as on the wire.
 */

/** CTAPHID commands (CTAP 2.1 §11.2.9). On the wire the init packet carries `cmd | 0x80`. */
export const CtapHidCmd = {
  PING: 0x01,
  MSG: 0x03,
  LOCK: 0x04,
  INIT: 0x06,
  WINK: 0x08,
  CBOR: 0x10,
  CANCEL: 0x11,
  KEEPALIVE: 0x3b,
  ERROR: 0x3f,
} as const;
export type CtapHidCmdValue = (typeof CtapHidCmd)[keyof typeof CtapHidCmd];

/** First and last vendor-specific command (CTAP 2.1 §11.2.9.3). */
export const CTAPHID_VENDOR_FIRST = 0x40;
export const CTAPHID_VENDOR_LAST = 0x7f;

/** Error codes carried in a CTAPHID_ERROR payload (CTAP 2.1 §11.2.9.1.6). */
export const CtapHidErrorCode = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;
export type CtapHidErrorCodeValue = (typeof CtapHidErrorCode)[keyof typeof CtapHidErrorCode];

const ERROR_NAMES = new Map<number, string>(Object.entries(CtapHidErrorCode).map(([k, v]) => [v, k]));

/** Spec name of a CTAPHID error code (`CHANNEL_BUSY`), or `0xNN` for an unnamed one. */
export function ctapHidErrorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** Broadcast channel, used only for INIT (CTAP 2.1 §11.2.3). CID 0 is reserved. */
export const BROADCAST_CID = 0xffffffff;
export const RESERVED_CID = 0;

/** Capability flags in the INIT response (CTAP 2.1 §11.2.9.1.3). */
export const CtapHidCapability = {
  WINK: 0x01,
  /** A U2FHID bit; python-fido2 marks it "not used". */
  LOCK: 0x02,
  CBOR: 0x04,
  /** The device does NOT implement CTAPHID_MSG (no CTAP1/U2F). */
  NMSG: 0x08,
} as const;

/** Keepalive status byte (CTAP 2.1 §11.2.9.1.5). */
export const KeepaliveStatus = {
  PROCESSING: 1,
  UPNEEDED: 2,
} as const;

/** Full-speed USB report size (CTAP 2.1 §11.2.4); the real size comes from the report descriptor. */
export const CTAPHID_REPORT_SIZE = 64;
/** Init packet header: CID[4] CMD[1] BCNTH[1] BCNTL[1]. */
export const CTAPHID_INIT_HEADER = 7;
/** Continuation packet header: CID[4] SEQ[1]. */
export const CTAPHID_CONT_HEADER = 5;
/** Highest continuation sequence number: SEQ is 7 bits, 0x00…0x7F (CTAP 2.1 §11.2.4). */
export const CTAPHID_MAX_SEQ = 0x7f;
/** Smallest report size hosts accept (libfido2: 8…64). */
export const CTAPHID_MIN_REPORT_SIZE = 8;

/**
 * Largest message for a report size: one init packet plus 128 continuation packets,
 * (s − 7) + 128 · (s − 5) (CTAP 2.1 §11.2.4). Throws `RangeError` for sizes below 8.
 */
export function ctapHidMaxMessage(reportSize: number = CTAPHID_REPORT_SIZE): number {
  if (!Number.isInteger(reportSize) || reportSize < CTAPHID_MIN_REPORT_SIZE) {
    throw new RangeError(`CTAPHID report size ${reportSize} is below ${CTAPHID_MIN_REPORT_SIZE}`);
  }
  return reportSize - CTAPHID_INIT_HEADER + (CTAPHID_MAX_SEQ + 1) * (reportSize - CTAPHID_CONT_HEADER);
}

/** 57 + 128 · 59 = 7609 bytes for 64-byte reports (CTAP 2.1 §11.2.4). */
export const CTAPHID_MAX_MESSAGE = 7609;

/** INIT request nonce length and response length (CTAP 2.1 §11.2.9.1.3). */
export const CTAPHID_INIT_NONCE_LENGTH = 8;
export const CTAPHID_INIT_RESPONSE_LENGTH = 17;
/** CTAPHID protocol version in INIT responses (CTAP 2.1 §11.2.9.1.3). */
export const CTAPHID_PROTOCOL_VERSION = 2;

/**
 * keytap's default transaction timeout for assembling one message (CTAP 2.1 §11.2.5: a
 * transaction not completed in time is aborted with ERR_MSG_TIMEOUT; the spec leaves the
 * value to the implementation). 3 s is generous for 129 reports at full speed (~130 ms).
 */
export const CTAPHID_TRANSACTION_TIMEOUT_MS = 3000;
