/**
 * ISO/IEC 7816-4 §5.6 status words (SW1 SW2) with names, plus the CTAP-over-NFC keepalive
 * status 91 00 (CTAP 2.1 §11.3.7). Spec spellings kept in an `as const` table.
 */
export const StatusWord = {
  SUCCESS: 0x9000,
  /** CTAP 2.1 §11.3.7: NFCCTAP_GETRESPONSE needed; the data is a keepalive status byte. */
  NFCCTAP_UPDATE: 0x9100,
  WARNING_END_OF_DATA: 0x6282,
  WARNING_NO_INFORMATION: 0x6300,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  LAST_COMMAND_EXPECTED: 0x6883,
  COMMAND_CHAINING_NOT_SUPPORTED: 0x6884,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  COMMAND_NOT_ALLOWED: 0x6986,
  WRONG_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

const NAMES = new Map<number, string>(Object.entries(StatusWord).map(([k, v]) => [v, k]));

/** The spec name of `sw`, with the count for 61XX (MORE_DATA) and 6CXX (WRONG_LE). */
export function statusWordName(sw: number): string {
  const known = NAMES.get(sw);
  if (known) return known;
  const sw1 = sw >> 8;
  if (sw1 === 0x61) return `MORE_DATA(${sw & 0xff || 256})`;
  if (sw1 === 0x6c) return `WRONG_LE(${sw & 0xff || 256})`;
  if (sw1 === 0x63 && (sw & 0xf0) === 0xc0) return `COUNTER(${sw & 0x0f})`;
  return 'UNKNOWN';
}

/** `6D00 INS_NOT_SUPPORTED` style label for messages. */
export function describeStatusWord(sw: number): string {
  return `${sw.toString(16).toUpperCase().padStart(4, '0')} ${statusWordName(sw)}`;
}
