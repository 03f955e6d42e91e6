/**
 * EM4100-style 125 kHz ASCII serial frames (reference/readers.md §6):
 *   RDM6300  02 ‖ 10 hex ‖ 2 hex checksum ‖ 03            (14 bytes)
 *   ID-12/20 02 ‖ 10 hex ‖ 2 hex checksum ‖ 0D 0A 03      (16 bytes)
 * Checksum = XOR of the 5 data bytes. Parser choices (not datasheet rules): resync on every
 * 02, accept lower-case hex, tell the variants apart by what follows the 12 characters, count
 * and drop bad frames. Pure: the caller feeds bytes as they arrive, in any split.
 */
import { toHex } from '../../util/bytes.ts';

export const STX = 0x02;
export const ETX = 0x03;

export type Em4100Variant = 'rdm6300' | 'id12';

export interface Em4100Frame {
  variant: Em4100Variant;
  /** The 5 data bytes (version/customer byte + 4-byte ID). */
  data: Uint8Array;
  /** Lower-case hex of `data` (the card's UID as keytap reports it). */
  uid: string;
  /** The last 4 bytes as an unsigned integer (ESPHome-style ID; printed badges often show `%010u` of it). */
  id: number;
}

export interface Em4100Counters {
  frames: number;
  badChecksum: number;
  malformed: number;
  /** Bytes seen outside any frame (line noise before an STX). */
  garbageBytes: number;
}

const hexVal = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
};

/** Streaming parser; never throws on input, counts what it drops in `counters`. */
export class Em4100Parser {
  private buf: number[] = [];
  readonly counters: Em4100Counters = { frames: 0, badChecksum: 0, malformed: 0, garbageBytes: 0 };

  /** Feeds bytes; returns the good frames completed by them. */
  push(chunk: Uint8Array): Em4100Frame[] {
    const out: Em4100Frame[] = [];
    for (const b of chunk) this.buf.push(b);
    for (;;) {
      // Drop everything before the next STX.
      const stx = this.buf.indexOf(STX);
      if (stx < 0) {
        this.counters.garbageBytes += this.buf.length;
        this.buf = [];
        break;
      }
      if (stx > 0) {
        this.counters.garbageBytes += stx;
        this.buf.splice(0, stx);
      }
      const r = this.tryFrame();
      if (r === 'wait') break;
      if (r === 'bad') {
        // Resync: drop this STX and look for the next one.
        this.buf.splice(0, 1);
        continue;
      }
      out.push(r.frame);
      this.buf.splice(0, r.length);
    }
    return out;
  }

  private tryFrame(): 'wait' | 'bad' | { frame: Em4100Frame; length: number } {
    const b = this.buf;
    const digits: number[] = [];
    for (let i = 1; i <= 12; i++) {
      if (i >= b.length) return 'wait';
      if (b[i] === STX) {
        this.counters.malformed++;
        return 'bad';
      }
      const v = hexVal(b[i]!);
      if (v < 0) {
        this.counters.malformed++;
        return 'bad';
      }
      digits.push(v);
    }
    let length: number;
    let variant: Em4100Variant;
    if (b.length < 14) return 'wait';
    if (b[13] === ETX) {
      length = 14;
      variant = 'rdm6300';
    } else if (b[13] === 0x0d) {
      if (b.length < 15) return 'wait';
      if (b[14] !== 0x0a) {
        this.counters.malformed++;
        return 'bad';
      }
      if (b.length < 16) return 'wait';
      if (b[15] !== ETX) {
        this.counters.malformed++;
        return 'bad';
      }
      length = 16;
      variant = 'id12';
    } else {
      this.counters.malformed++;
      return 'bad';
    }
    const bytes = new Uint8Array(6);
    for (let i = 0; i < 6; i++) bytes[i] = (digits[2 * i]! << 4) | digits[2 * i + 1]!;
    const data = bytes.slice(0, 5);
    let x = 0;
    for (const d of data) x ^= d;
    if (x !== bytes[5]) {
      this.counters.badChecksum++;
      return 'bad';
    }
    this.counters.frames++;
    const id = ((data[1]! << 24) | (data[2]! << 16) | (data[3]! << 8) | data[4]!) >>> 0;
    return { frame: { variant, data, uid: toHex(data), id }, length };
  }
}

/** Encodes a frame as the reader would send it (upper-case hex); the simulator and tests use it. */
export function encodeEm4100Frame(data: Uint8Array, variant: Em4100Variant, options?: { badChecksum?: boolean; lowerCase?: boolean }): Uint8Array {
  if (data.length !== 5) throw new RangeError('EM4100 data is 5 bytes');
  let x = 0;
  for (const d of data) x ^= d;
  if (options?.badChecksum) x ^= 0xff;
  let hex = toHex(data) + x.toString(16).padStart(2, '0');
  if (!options?.lowerCase) hex = hex.toUpperCase();
  const body = [...hex].map((c) => c.charCodeAt(0));
  const tail = variant === 'rdm6300' ? [ETX] : [0x0d, 0x0a, ETX];
  return Uint8Array.from([STX, ...body, ...tail]);
}
