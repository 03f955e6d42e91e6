/**
 * Command and response APDUs (ISO/IEC 7816-4 §5.1): short and extended length encodings,
 * and the 61XX / 6CXX follow-ups (GET RESPONSE `00 C0`, resend with Le = XX).
 */
import { ApduFormatError } from './errors.ts';

/** A command APDU. `le` is the expected response length (256/65536 mean "all"); null = none. */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  le: number | null;
}

/** A response APDU: data and the status word (SW1 << 8 | SW2). */
export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

/**
 * Encodes a command APDU. Short form unless `extended` is set or the data (> 255) or Le
 * (> 256) needs the extended form (§5.1: Lc 00 hi lo, Le 00 hi lo / hi lo).
 */
export function encodeCommandApdu(cmd: CommandApdu, options?: { extended?: boolean }): Uint8Array {
  const { cla, ins, p1, p2, data, le } = cmd;
  if (data.length > 65535) throw new ApduFormatError(`APDU data too long (${data.length} bytes)`);
  if (le !== null && (le < 0 || le > 65536)) throw new ApduFormatError(`Le out of range (${le})`);
  const ext = options?.extended === true || data.length > 255 || (le !== null && le > 256);
  const out: number[] = [cla, ins, p1, p2];
  if (!ext) {
    if (data.length > 0) out.push(data.length, ...data);
    if (le !== null) out.push(le === 256 ? 0 : le);
    return Uint8Array.from(out);
  }
  if (data.length > 0) out.push(0, data.length >> 8, data.length & 0xff, ...data);
  if (le !== null) {
    const v = le === 65536 ? 0 : le;
    if (data.length === 0) out.push(0);
    out.push(v >> 8, v & 0xff);
  }
  return Uint8Array.from(out);
}

/** Decodes a command APDU of any of the seven §5.1 cases. Throws `ApduFormatError`. */
export function decodeCommandApdu(b: Uint8Array): CommandApdu & { extended: boolean } {
  if (b.length < 4) throw new ApduFormatError(`command APDU too short (${b.length} bytes)`);
  const head = { cla: b[0]!, ins: b[1]!, p1: b[2]!, p2: b[3]! };
  const n = b.length;
  if (n === 4) return { ...head, data: new Uint8Array(0), le: null, extended: false };
  const b4 = b[4]!;
  if (n === 5) return { ...head, data: new Uint8Array(0), le: b4 === 0 ? 256 : b4, extended: false };
  if (b4 !== 0) {
    if (n === 5 + b4) return { ...head, data: b.slice(5), le: null, extended: false };
    if (n === 6 + b4) return { ...head, data: b.slice(5, 5 + b4), le: b[n - 1] === 0 ? 256 : b[n - 1]!, extended: false };
    throw new ApduFormatError(`short APDU Lc ${b4} does not match its length ${n}`);
  }
  // Extended: b4 == 0.
  if (n === 7) {
    const le = (b[5]! << 8) | b[6]!;
    return { ...head, data: new Uint8Array(0), le: le === 0 ? 65536 : le, extended: true };
  }
  if (n < 8) throw new ApduFormatError(`extended APDU truncated (${n} bytes)`);
  const lc = (b[5]! << 8) | b[6]!;
  if (lc === 0) throw new ApduFormatError('extended APDU with Lc 0');
  if (n === 7 + lc) return { ...head, data: b.slice(7), le: null, extended: true };
  if (n === 9 + lc) {
    const le = (b[n - 2]! << 8) | b[n - 1]!;
    return { ...head, data: b.slice(7, 7 + lc), le: le === 0 ? 65536 : le, extended: true };
  }
  throw new ApduFormatError(`extended APDU Lc ${lc} does not match its length ${n}`);
}

/** Splits `data ‖ SW1 SW2`. Throws `ApduFormatError` when shorter than 2 bytes. */
export function decodeResponseApdu(b: Uint8Array): ResponseApdu {
  if (b.length < 2) throw new ApduFormatError(`response APDU too short (${b.length} bytes)`);
  return { data: b.slice(0, b.length - 2), sw: (b[b.length - 2]! << 8) | b[b.length - 1]! };
}

/** `data ‖ SW1 SW2`. */
export function encodeResponseApdu(data: Uint8Array, sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

/** GET RESPONSE `00 C0 00 00 Le` (§7.6.1); `le` 1..256 (SW2 of 61XX, 0 meaning 256). */
export function getResponseApdu(le: number): Uint8Array {
  return Uint8Array.of(0x00, 0xc0, 0x00, 0x00, le & 0xff);
}

/**
 * What to do after a response (§5.1.3): `done`, `get-response` (61XX: send GET RESPONSE and
 * append), or `resend` (6CXX: repeat the command with Le = XX).
 */
export type FollowUp = { kind: 'done' } | { kind: 'get-response'; apdu: Uint8Array } | { kind: 'resend'; apdu: Uint8Array };

/** Decides the follow-up of `response` to `command` (the encoded C-APDU). */
export function followUp(command: Uint8Array, response: ResponseApdu): FollowUp {
  const sw1 = response.sw >> 8;
  if (sw1 === 0x61) return { kind: 'get-response', apdu: getResponseApdu(response.sw & 0xff) };
  if (sw1 === 0x6c) {
    const cmd = decodeCommandApdu(command);
    const le = response.sw & 0xff || 256;
    return { kind: 'resend', apdu: encodeCommandApdu({ ...cmd, le }, { extended: cmd.extended }) };
  }
  return { kind: 'done' };
}

/** `00 A4 04 00 Lc AID 00`: SELECT by DF name (§11.2.2). */
export function selectAidApdu(aid: Uint8Array): Uint8Array {
  return encodeCommandApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: aid, le: 256 });
}
