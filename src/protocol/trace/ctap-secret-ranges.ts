/**
 * Where the secrets are in a CTAP2 message, as byte ranges, so the trace recorder can mask them
 * (DESIGN.md §6: "traces mask clientPIN fields"). Pure; walks canonical CBOR by offsets and
 * never decodes values.
 *
 * Masked (CTAP 2.1 §6.5.5): in a clientPIN (0x06) request keyAgreement (0x03, the platform's
 * COSE key), pinUvAuthParam (0x04), newPinEnc (0x05), pinHashEnc (0x06); in a clientPIN
 * response pinUvAuthToken (0x02); in makeCredential (0x08) and getAssertion (0x06) requests
 * pinUvAuthParam, which is derived from the token. Only the contents of byte/text strings are
 * masked, so the CBOR structure (and the lengths) stay readable and a replayed response still
 * decodes.
 */

/** A half-open byte range [start, end) in a CTAP message (`command ‖ cbor` or `status ‖ cbor`). */
export type ByteRange = readonly [number, number];

/** CTAP2 command bytes whose secrets we know (fido.md §3). */
const MAKE_CREDENTIAL = 0x01;
const GET_ASSERTION = 0x02;
const CLIENT_PIN = 0x06;

const REQUEST_SECRET_KEYS: Record<number, readonly number[]> = {
  [CLIENT_PIN]: [0x03, 0x04, 0x05, 0x06],
  [MAKE_CREDENTIAL]: [0x08],
  [GET_ASSERTION]: [0x06],
};
const RESPONSE_SECRET_KEYS: Record<number, readonly number[]> = {
  [CLIENT_PIN]: [0x02],
};

/** Reads a CBOR head at `off`: major type, argument, and the offset after the head. Throws RangeError past the end. */
function head(b: Uint8Array, off: number): { major: number; arg: number; next: number; info: number } {
  if (off >= b.length) throw new RangeError('CBOR truncated');
  const ib = b[off]!;
  const major = ib >> 5;
  const info = ib & 31;
  if (info < 24) return { major, arg: info, next: off + 1, info };
  const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
  if (n < 0) throw new RangeError('CBOR indefinite or reserved length');
  if (off + 1 + n > b.length) throw new RangeError('CBOR truncated');
  let arg = 0;
  for (let i = 0; i < n; i++) arg = arg * 256 + b[off + 1 + i]!;
  return { major, arg, next: off + 1 + n, info };
}

/** Offset just after the CBOR item at `off`; collects string-content ranges into `strings` when given. */
function skip(b: Uint8Array, off: number, strings?: ByteRange[]): number {
  const h = head(b, off);
  switch (h.major) {
    case 0:
    case 1:
    case 7:
      return h.next;
    case 2:
    case 3:
      if (h.next + h.arg > b.length) throw new RangeError('CBOR truncated');
      if (strings && h.arg > 0) strings.push([h.next, h.next + h.arg]);
      return h.next + h.arg;
    case 4: {
      let p = h.next;
      for (let i = 0; i < h.arg; i++) p = skip(b, p, strings);
      return p;
    }
    case 5: {
      let p = h.next;
      for (let i = 0; i < h.arg * 2; i++) p = skip(b, p, strings);
      return p;
    }
    case 6:
      return skip(b, h.next, strings);
    default:
      throw new RangeError('CBOR major type');
  }
}

/** String-content ranges inside the values of `keys` of the top-level map starting at `off`. */
function rangesInMap(b: Uint8Array, off: number, keys: readonly number[]): ByteRange[] {
  const h = head(b, off);
  if (h.major !== 5) return [];
  const out: ByteRange[] = [];
  let p = h.next;
  for (let i = 0; i < h.arg; i++) {
    const k = head(b, p);
    const key = k.major === 0 ? k.arg : k.major === 1 ? -1 - k.arg : NaN;
    p = skip(b, p);
    p = skip(b, p, keys.includes(key) ? out : undefined);
  }
  return out;
}

/**
 * Secret ranges in a CTAP2 request (`command ‖ cbor`). When the message cannot be walked (a
 * truncated or non-canonical clientPIN request), the whole CBOR part of a command with secrets
 * is returned: better to mask too much than to leak.
 */
export function requestSecretRanges(message: Uint8Array): ByteRange[] {
  if (message.length < 2) return [];
  const keys = REQUEST_SECRET_KEYS[message[0]!];
  if (!keys) return [];
  try {
    return rangesInMap(message, 1, keys);
  } catch {
    return [[1, message.length]];
  }
}

/** Secret ranges in a CTAP2 response (`status ‖ cbor`) to a request whose command byte was `command`. */
export function responseSecretRanges(command: number, message: Uint8Array): ByteRange[] {
  if (message.length < 2) return [];
  const keys = RESPONSE_SECRET_KEYS[command];
  if (!keys) return [];
  try {
    return rangesInMap(message, 1, keys);
  } catch {
    return [[1, message.length]];
  }
}

/** Whether a request with this command byte may carry secrets (so a partial message is masked whole). */
export function commandCarriesSecrets(command: number): boolean {
  return command in REQUEST_SECRET_KEYS || command in RESPONSE_SECRET_KEYS;
}
