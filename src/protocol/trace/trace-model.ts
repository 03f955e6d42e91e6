/**
 * The in-memory model of a keytap trace (grammar in fixtures/README.md). Pure data: the parser
 * produces it, the serializer prints it, the replayer walks it, the recorder builds it.
 */

/** What one `=>`/`<=` unit is: a HID report (hid, udp), an APDU (nfc, pcsc), serial bytes. */
export type TraceTransport = 'hid' | 'udp' | 'nfc' | 'pcsc' | 'serial';
export const TRACE_TRANSPORTS: readonly TraceTransport[] = ['hid', 'udp', 'nfc', 'pcsc', 'serial'];

/** Current (and only) grammar version, from the magic first line `# keytap-trace 1`. */
export const TRACE_VERSION = 1;
/** The magic first line. */
export const TRACE_MAGIC = '# keytap-trace 1';

/**
 * One byte-pattern segment: literal bytes, `??`/`<any N>` (don't care, e.g. a fresh INIT
 * nonce) or `<masked N>` (a secret the recorder removed). Both wildcard kinds match any byte
 * and replay as 0x00; they differ in meaning only.
 */
export type PatternSegment =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'any'; length: number }
  | { kind: 'masked'; length: number };

/**
 * The bytes of one unit. `padTo` set (the `...` suffix) means "zero bytes up to `padTo`
 * (the report size)": a host must send zeros there, a replay sends zeros.
 */
export interface BytePattern {
  segments: PatternSegment[];
  padTo?: number;
}

/** Trace records. `line` is the 1-based source line (0 for records built in memory). */
export type TraceEntry =
  /** `=> <bytes>` host to device; `=> *` any one host message (`data` undefined). */
  | { kind: 'send'; line: number; data?: BytePattern }
  /** `<= <bytes>` device to host in answer to the host. */
  | { kind: 'recv'; line: number; data: BytePattern }
  /** `<~ <bytes>` a device frame nobody asked for (another channel, a reader's event frame). */
  | { kind: 'unsolicited'; line: number; data: BytePattern }
  /** `!! error CODE text`, `!! timeout text`, `!! disconnect text`: what the host's I/O call saw. */
  | { kind: 'fault'; line: number; fault: 'error' | 'timeout' | 'disconnect'; code?: string; text: string }
  /** `@ name key=value ...`: hotplug and card events, power cycles. */
  | { kind: 'event'; line: number; name: string; attrs: Record<string, string> }
  /** `+<ms>`: this much time passed before the next record. */
  | { kind: 'delay'; line: number; ms: number }
  /** `# text`: kept so a parse/serialize round trip keeps the notes. */
  | { kind: 'comment'; line: number; text: string };

/**
 * The header block after the magic line: `key: value` lines. `transport`, `device` and
 * `provenance` are required; `license`, `report-size` (default 64 for hid/udp) and any other
 * lower-case key are kept in order in `fields`.
 */
export interface TraceHeader {
  version: number;
  transport: TraceTransport;
  device: string;
  provenance: string;
  license?: string;
  /** HID report size for `...` padding (hid/udp only; default 64). */
  reportSize?: number;
  /**
   * `unit` (default): each `=>`/`<=` is a wire unit (HID report, APDU, serial chunk).
   * `message`: each is one CTAP transport message, `cmd ‖ payload` (the CtapTransport seam, any
   * transport: HID, NFC, PC/SC); keepalives are `@ keepalive status=...` events.
   */
  level?: 'unit' | 'message';
  /** Every header field, in file order (including the typed ones above). */
  fields: Array<[string, string]>;
}

export interface Trace {
  header: TraceHeader;
  entries: TraceEntry[];
}

/** Length in bytes a pattern stands for (segments plus padding). */
export function patternLength(p: BytePattern): number {
  let n = 0;
  for (const s of p.segments) n += s.kind === 'bytes' ? s.bytes.length : s.length;
  return Math.max(n, p.padTo ?? 0);
}

/** The bytes a replay sends for a pattern: literals, zeros for wildcards, masks and padding. */
export function patternBytes(p: BytePattern): Uint8Array {
  const out = new Uint8Array(patternLength(p));
  let off = 0;
  for (const s of p.segments) {
    if (s.kind === 'bytes') {
      out.set(s.bytes, off);
      off += s.bytes.length;
    } else off += s.length;
  }
  return out;
}

/**
 * Compares actual bytes with a pattern. Returns null on a match, else the first differing
 * offset (or the shorter length when the lengths differ).
 */
export function matchPattern(p: BytePattern, actual: Uint8Array): number | null {
  const len = patternLength(p);
  let off = 0;
  for (const s of p.segments) {
    if (s.kind === 'bytes') {
      for (let i = 0; i < s.bytes.length; i++) {
        if (off + i >= actual.length || actual[off + i] !== s.bytes[i]) return off + i;
      }
      off += s.bytes.length;
    } else {
      if (off + s.length > actual.length) return actual.length;
      off += s.length;
    }
  }
  for (; off < len; off++) if (off >= actual.length || actual[off] !== 0) return off;
  return actual.length === len ? null : Math.min(len, actual.length);
}

/** A literal pattern (no wildcards) for `bytes`, optionally with trailing zeros folded into `...`. */
export function literalPattern(bytes: Uint8Array, padTo?: number): BytePattern {
  if (padTo !== undefined && bytes.length === padTo) {
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    return { segments: end ? [{ kind: 'bytes', bytes: bytes.slice(0, end) }] : [], padTo };
  }
  return { segments: [{ kind: 'bytes', bytes: bytes.slice() }] };
}

/**
 * A pattern from bytes plus a per-byte wildcard map (`'masked'`, `'any'` or undefined for
 * literal), with trailing literal zeros folded into `...` when `padTo` equals the length.
 */
export function patternFromBytes(bytes: Uint8Array, wild: Array<'masked' | 'any' | undefined>, padTo?: number): BytePattern {
  let end = bytes.length;
  if (padTo !== undefined && bytes.length === padTo) while (end > 0 && bytes[end - 1] === 0 && !wild[end - 1]) end--;
  const segments: PatternSegment[] = [];
  let i = 0;
  while (i < end) {
    const w = wild[i];
    let j = i + 1;
    while (j < end && wild[j] === w) j++;
    if (w) segments.push({ kind: w, length: j - i });
    else segments.push({ kind: 'bytes', bytes: bytes.slice(i, j) });
    i = j;
  }
  return padTo !== undefined && bytes.length === padTo ? { segments, padTo } : { segments };
}
