/**
 * CBOR (RFC 8949) for CTAP2: the encoder always writes CTAP2 canonical form (CTAP 2.1
 * §8 "Message Encoding": shortest-form integers and lengths, definite lengths, map keys
 * sorted by encoded length then bytewise, no tags); the decoder accepts any well-formed
 * CBOR (real devices send non-canonical maps, e.g. a Nitrokey FIDO2 getInfo) and reports
 * whether the input was canonical, and rejects malformed input with a `CborError`.
 *
 * Value mapping: unsigned/negative ints → `number` (or `bigint` beyond 2^53), byte string →
 * `Uint8Array`, text → `string`, array → `CborValue[]`, map → `Map`, true/false/null/undefined,
 * floats → `number`, tags → `CborTag`.
 */
import { DecodeError } from './errors.ts';
import { bytesEqual } from '../util/bytes.ts';

export type CborKey = number | string;
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | CborMap
  | CborTag;
export type CborMap = Map<CborKey | CborValue, CborValue>;

/** A tagged item, kept as-is so callers can decide (CTAP2 never needs tags). */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** Malformed CBOR: truncated, bad additional info, trailing bytes, too deep. */
export class CborError extends DecodeError {
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`, { code: 'CBOR_MALFORMED', details: { offset } });
  }
}

/** Depth limit: CTAP2 messages nest at most ~5 levels; 32 stops stack exhaustion attacks. */
export const CBOR_MAX_DEPTH = 32;

// ---------------------------------------------------------------- encoder

function head(major: number, value: number | bigint, out: number[]): void {
  const m = major << 5;
  if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError('negative length/value in CBOR head');
    if (value < 0x100000000n) return head(major, Number(value), out);
    out.push(m | 27);
    for (let i = 7; i >= 0; i--) out.push(Number((value >> BigInt(i * 8)) & 0xffn));
    return;
  }
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`invalid CBOR head value ${value}`);
  if (value < 24) out.push(m | value);
  else if (value < 0x100) out.push(m | 24, value);
  else if (value < 0x10000) out.push(m | 25, value >> 8, value & 0xff);
  else if (value < 0x100000000) out.push(m | 26, (value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  else head(major, BigInt(value), out);
}

const utf8 = new TextEncoder();

function encodeInto(value: CborValue, out: number[]): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new RangeError('CTAP2 canonical CBOR has no floats');
    if (value >= 0) head(0, value, out);
    else head(1, -1 - value, out);
  } else if (typeof value === 'bigint') {
    if (value >= 0n) head(0, value, out);
    else head(1, -1n - value, out);
  } else if (typeof value === 'string') {
    const b = utf8.encode(value);
    head(3, b.length, out);
    for (const x of b) out.push(x);
  } else if (value instanceof Uint8Array) {
    head(2, value.length, out);
    for (const x of value) out.push(x);
  } else if (Array.isArray(value)) {
    head(4, value.length, out);
    for (const v of value) encodeInto(v, out);
  } else if (value instanceof Map) {
    const entries: { key: number[]; val: CborValue }[] = [];
    for (const [k, v] of value) {
      if (v === undefined) continue; // absent optional members are omitted, not encoded as undefined
      const key: number[] = [];
      encodeInto(k as CborValue, key);
      entries.push({ key, val: v });
    }
    // CTAP 2.1 §8: keys sorted by length of encoding, then bytewise lexical order.
    entries.sort((a, b) => a.key.length - b.key.length || compareBytes(a.key, b.key));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1]!.key, entries[i]!.key) === 0) throw new RangeError('duplicate CBOR map key');
    }
    head(5, entries.length, out);
    for (const e of entries) {
      for (const x of e.key) out.push(x);
      encodeInto(e.val, out);
    }
  } else if (value === false) out.push(0xf4);
  else if (value === true) out.push(0xf5);
  else if (value === null) out.push(0xf6);
  else if (value === undefined) out.push(0xf7);
  else if (value instanceof CborTag) {
    head(6, value.tag, out);
    encodeInto(value.value, out);
  } else throw new RangeError(`cannot CBOR-encode ${typeof value}`);
}

function compareBytes(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Encodes `value` in CTAP2 canonical CBOR. Map members whose value is `undefined` are omitted. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  encodeInto(value, out);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- decoder

/** The result of `decodeCborWithInfo`. */
export interface CborDecodeResult {
  value: CborValue;
  /** False when the input was well-formed but not CTAP2 canonical (noted in traces). */
  canonical: boolean;
  /** Bytes consumed. */
  length: number;
}

const utf8d = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  canonical = true;
  constructor(readonly b: Uint8Array) {}

  need(n: number): void {
    if (this.pos + n > this.b.length) throw new CborError(`truncated CBOR: need ${n} more byte(s)`, this.pos);
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }

  arg(ai: number, start: number): number | bigint {
    if (ai < 24) return ai;
    let v: number | bigint;
    if (ai === 24) {
      v = this.u8();
      if (v < 24) this.canonical = false;
    } else if (ai === 25) {
      this.need(2);
      v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
      this.pos += 2;
      if (v < 0x100) this.canonical = false;
    } else if (ai === 26) {
      this.need(4);
      v = ((this.b[this.pos]! << 24) | (this.b[this.pos + 1]! << 16) | (this.b[this.pos + 2]! << 8) | this.b[this.pos + 3]!) >>> 0;
      this.pos += 4;
      if (v < 0x10000) this.canonical = false;
    } else if (ai === 27) {
      this.need(8);
      let big = 0n;
      for (let i = 0; i < 8; i++) big = (big << 8n) | BigInt(this.b[this.pos + i]!);
      this.pos += 8;
      if (big < 0x100000000n) this.canonical = false;
      v = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    } else throw new CborError(`reserved additional info ${ai}`, start);
    return v;
  }

  len(ai: number, start: number): number {
    const v = this.arg(ai, start);
    if (typeof v === 'bigint' || v > this.b.length - this.pos) {
      // A declared length beyond the input is truncation; a byte/text length cannot exceed it.
      throw new CborError(`declared length ${v} exceeds the remaining ${this.b.length - this.pos} byte(s)`, start);
    }
    return v;
  }

  item(depth: number): CborValue {
    if (depth > CBOR_MAX_DEPTH) throw new CborError(`nesting deeper than ${CBOR_MAX_DEPTH}`, this.pos);
    const start = this.pos;
    const ib = this.u8();
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai === 31) return this.indefinite(major, start, depth);
    switch (major) {
      case 0:
        return this.arg(ai, start);
      case 1: {
        const v = this.arg(ai, start);
        return typeof v === 'bigint' ? -1n - v : v >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(v) : -1 - v;
      }
      case 2: {
        const n = this.len(ai, start);
        const out = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.len(ai, start);
        const bytes = this.b.subarray(this.pos, this.pos + n);
        this.pos += n;
        try {
          return utf8d.decode(bytes);
        } catch {
          throw new CborError('text string is not valid UTF-8', start);
        }
      }
      case 4: {
        const n = this.len(ai, start); // each item is ≥ 1 byte, so len() bounds it
        const arr: CborValue[] = [];
        for (let i = 0; i < n; i++) arr.push(this.item(depth + 1));
        return arr;
      }
      case 5: {
        const n = this.len(ai, start);
        const map: CborMap = new Map();
        let prevKey: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const ks = this.pos;
          const k = this.item(depth + 1);
          const keyBytes = this.b.subarray(ks, this.pos);
          if (prevKey && (prevKey.length > keyBytes.length || (prevKey.length === keyBytes.length && compareBytes(prevKey, keyBytes) >= 0))) {
            if (bytesEqual(prevKey, keyBytes)) throw new CborError('duplicate map key', ks);
            this.canonical = false;
          }
          prevKey = keyBytes;
          const mapKey = k instanceof Uint8Array || Array.isArray(k) || k instanceof Map ? k : k;
          if (map.has(mapKey as CborKey)) throw new CborError('duplicate map key', ks);
          map.set(mapKey as CborKey, this.item(depth + 1));
        }
        return map;
      }
      case 6: {
        const tag = this.arg(ai, start);
        this.canonical = false; // CTAP2 canonical form has no tags
        return new CborTag(Number(tag), this.item(depth + 1));
      }
      default:
        return this.simple(ai, start);
    }
  }

  simple(ai: number, start: number): CborValue {
    if (ai === 20) return false;
    if (ai === 21) return true;
    if (ai === 22) return null;
    if (ai === 23) return undefined;
    if (ai === 24) {
      const v = this.u8();
      if (v < 32) throw new CborError('invalid simple value encoding', start);
      return undefined;
    }
    if (ai === 25) {
      this.need(2);
      const h = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
      this.pos += 2;
      return halfToNumber(h);
    }
    if (ai === 26) {
      this.need(4);
      const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4).getFloat32(0);
      this.pos += 4;
      return v;
    }
    if (ai === 27) {
      this.need(8);
      const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 8).getFloat64(0);
      this.pos += 8;
      return v;
    }
    if (ai < 20) return undefined; // unassigned simple values: well-formed, no meaning
    throw new CborError(`reserved additional info ${ai} in major type 7`, start);
  }

  indefinite(major: number, start: number, depth: number): CborValue {
    this.canonical = false;
    const isBreak = (): boolean => {
      this.need(1);
      if (this.b[this.pos] === 0xff) {
        this.pos++;
        return true;
      }
      return false;
    };
    if (major === 2 || major === 3) {
      const chunks: Uint8Array[] = [];
      while (!isBreak()) {
        const cs = this.pos;
        const ib = this.u8();
        if (ib >> 5 !== major || (ib & 31) === 31) throw new CborError('bad chunk in indefinite-length string', cs);
        const n = this.len(ib & 31, cs);
        chunks.push(this.b.subarray(this.pos, this.pos + n));
        this.pos += n;
      }
      const total = chunks.reduce((a, c) => a + c.length, 0);
      const joined = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        joined.set(c, off);
        off += c.length;
      }
      if (major === 2) return joined;
      try {
        return utf8d.decode(joined);
      } catch {
        throw new CborError('text string is not valid UTF-8', start);
      }
    }
    if (major === 4) {
      const arr: CborValue[] = [];
      while (!isBreak()) arr.push(this.item(depth + 1));
      return arr;
    }
    if (major === 5) {
      const map: CborMap = new Map();
      while (!isBreak()) {
        const k = this.item(depth + 1);
        map.set(k as CborKey, this.item(depth + 1));
      }
      return map;
    }
    throw new CborError(`indefinite length not allowed for major type ${major}`, start);
  }
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

/** Decodes exactly one CBOR item that fills `bytes`, reporting canonicality. */
export function decodeCborWithInfo(bytes: Uint8Array): CborDecodeResult {
  const r = new Reader(bytes);
  if (bytes.length === 0) throw new CborError('empty input', 0);
  const value = r.item(0);
  if (r.pos !== bytes.length) throw new CborError(`${bytes.length - r.pos} trailing byte(s) after the CBOR item`, r.pos);
  return { value, canonical: r.canonical, length: r.pos };
}

/**
 * Decodes the first CBOR item of `bytes` and says where it ended; the rest is the caller's
 * (authenticator data carries a COSE key followed by extensions, CTAP 2.1 §6.1).
 */
export function decodeCborPrefix(bytes: Uint8Array): CborDecodeResult {
  const r = new Reader(bytes);
  if (bytes.length === 0) throw new CborError('empty input', 0);
  const value = r.item(0);
  return { value, canonical: r.canonical, length: r.pos };
}

/** Decodes exactly one CBOR item that fills `bytes`. Throws `CborError` when malformed. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  return decodeCborWithInfo(bytes).value;
}
