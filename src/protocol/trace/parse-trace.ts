/**
 * The trace parser (grammar in fixtures/README.md). Pure: text in, `Trace` out; every error is
 * a `TraceParseError` naming the 1-based line.
 */
import { TraceParseError } from './trace-errors.ts';
import {
  TRACE_MAGIC,
  TRACE_TRANSPORTS,
  TRACE_VERSION,
  type BytePattern,
  type PatternSegment,
  type Trace,
  type TraceEntry,
  type TraceHeader,
  type TraceTransport,
} from './trace-model.ts';

/** Default HID report size for `...` padding (CTAP 2.1 §11.2.4). */
export const DEFAULT_TRACE_REPORT_SIZE = 64;

const HEADER_KEY = /^([a-z][a-z0-9-]*):\s*(.*)$/;
const TOKEN = /<masked\s+(\d+)>|<any\s+(\d+)>|\?\?|\.\.\.|[0-9a-fA-F]+|<[^>]*>?|\S+/g;
const EVENT_NAME = /^[a-z][a-zA-Z0-9.-]*$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

/** Options of `parseTrace`. */
export interface ParseTraceOptions {
  /** File name put in front of the line number in errors (default: none, "trace line N"). */
  source?: string;
}

/**
 * Parses a trace. Throws `TraceParseError` (code TRACE_PARSE_ERROR, `details.line`) on the
 * first violation: missing magic line, unknown or missing header field, bad hex, odd hex run,
 * `...` anywhere but at the end, unknown record marker.
 */
export function parseTrace(text: string, options: ParseTraceOptions = {}): Trace {
  const src = options.source;
  const fail = (line: number, reason: string): never => {
    throw new TraceParseError(line, reason, src ? { source: src } : undefined);
  };
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const magic = (lines[0] ?? '').trim();
  const m = /^# keytap-trace (\d+)$/.exec(magic);
  if (!m) fail(1, `the first line must be "${TRACE_MAGIC}"`);
  const version = Number(m![1]);
  if (version !== TRACE_VERSION) fail(1, `unsupported trace version ${version} (this keytap reads version ${TRACE_VERSION})`);

  const fields: Array<[string, string]> = [];
  const entries: TraceEntry[] = [];
  let inHeader = true;
  let reportSize: number | undefined;
  let transport: TraceTransport | undefined;
  let level: 'unit' | 'message' = 'unit';

  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      entries.push({ kind: 'comment', line: n, text: line.slice(1).trimStart() });
      continue;
    }
    const hm = HEADER_KEY.exec(line);
    if (hm) {
      if (!inHeader) fail(n, `header field "${hm[1]}" after the first record; header fields go at the top`);
      const [, key, value] = hm as unknown as [string, string, string];
      if (fields.some(([k]) => k === key)) fail(n, `duplicate header field "${key}"`);
      if (key === 'transport') {
        if (!TRACE_TRANSPORTS.includes(value as TraceTransport)) fail(n, `transport must be one of ${TRACE_TRANSPORTS.join('|')}, got "${value}"`);
        transport = value as TraceTransport;
      }
      if (key === 'level') {
        if (value !== 'unit' && value !== 'message') fail(n, `level must be unit|message, got "${value}"`);
        level = value as 'unit' | 'message';
      }
      if (key === 'report-size') {
        if (!/^\d+$/.test(value) || Number(value) < 8 || Number(value) > 1024) fail(n, `report-size must be an integer 8…1024, got "${value}"`);
        reportSize = Number(value);
      }
      fields.push([key, value.trim()]);
      continue;
    }
    if (inHeader) {
      for (const req of ['transport', 'device', 'provenance']) {
        if (!fields.some(([k]) => k === req)) fail(n, `header field "${req}:" is missing (required before the first record)`);
      }
      inHeader = false;
    }
    const padTo = (transport === 'hid' || transport === 'udp') && level === 'unit' ? (reportSize ?? DEFAULT_TRACE_REPORT_SIZE) : undefined;
    entries.push(parseRecord(line, n, padTo, fail));
  }
  if (inHeader) {
    for (const req of ['transport', 'device', 'provenance']) {
      if (!fields.some(([k]) => k === req)) fail(lines.length || 1, `header field "${req}:" is missing`);
    }
  }
  const get = (k: string): string | undefined => fields.find(([key]) => key === k)?.[1];
  const header: TraceHeader = {
    version,
    transport: transport!,
    device: get('device')!,
    provenance: get('provenance')!,
    fields,
  };
  const license = get('license');
  if (license !== undefined) header.license = license;
  if (reportSize !== undefined) header.reportSize = reportSize;
  if (level !== 'unit') header.level = level;
  return { header, entries };
}

function parseRecord(line: string, n: number, padTo: number | undefined, fail: (line: number, reason: string) => never): TraceEntry {
  const marker = line.slice(0, 2);
  const rest = line.slice(2).trim();
  switch (marker) {
    case '=>':
      if (rest === '*') return { kind: 'send', line: n };
      return { kind: 'send', line: n, data: parseBytes(rest, n, padTo, fail) };
    case '<=':
      return { kind: 'recv', line: n, data: parseBytes(rest, n, padTo, fail) };
    case '<~':
      return { kind: 'unsolicited', line: n, data: parseBytes(rest, n, padTo, fail) };
    case '!!': {
      const fm = /^(error|timeout|disconnect)(?:\s+(.*))?$/.exec(rest);
      if (!fm) return fail(n, `"!!" must be followed by error|timeout|disconnect, got "${rest}"`);
      const fault = fm[1] as 'error' | 'timeout' | 'disconnect';
      let text = (fm[2] ?? '').trim();
      if (fault === 'error') {
        const code = text.split(/\s+/)[0] ?? '';
        if (!ERROR_CODE.test(code)) return fail(n, `"!! error" needs an upper-case error code first (e.g. "!! error DEVICE_BUSY ..."), got "${code}"`);
        text = text.slice(code.length).trim();
        return { kind: 'fault', line: n, fault, code, text };
      }
      return { kind: 'fault', line: n, fault, text };
    }
  }
  if (line.startsWith('@')) {
    const parts = line.slice(1).trim().split(/\s+/).filter(Boolean);
    const name = parts.shift() ?? '';
    if (!EVENT_NAME.test(name)) return fail(n, `event name "${name}" is not a lower-case dotted name (e.g. "@ card.present uid=04a1b2c3")`);
    const attrs: Record<string, string> = {};
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq <= 0) return fail(n, `event attribute "${p}" is not key=value`);
      attrs[p.slice(0, eq)] = p.slice(eq + 1);
    }
    return { kind: 'event', line: n, name, attrs };
  }
  if (line.startsWith('+')) {
    const dm = /^\+(\d+(?:\.\d+)?)(?:ms)?$/.exec(line);
    if (!dm) return fail(n, `timing must be "+<milliseconds>", got "${line}"`);
    return { kind: 'delay', line: n, ms: Number(dm[1]) };
  }
  return fail(n, `unknown record "${line.slice(0, 16)}": lines start with =>, <=, <~, !!, @, +, # or "key:" in the header`);
}

function parseBytes(text: string, n: number, padTo: number | undefined, fail: (line: number, reason: string) => never): BytePattern {
  if (text === '') return fail(n, 'no bytes after the direction marker');
  const segments: PatternSegment[] = [];
  const push = (s: PatternSegment): void => {
    const last = segments[segments.length - 1];
    if (last && last.kind === s.kind) {
      if (s.kind === 'bytes' && last.kind === 'bytes') {
        const merged = new Uint8Array(last.bytes.length + s.bytes.length);
        merged.set(last.bytes);
        merged.set(s.bytes, last.bytes.length);
        last.bytes = merged;
        return;
      }
      if (s.kind !== 'bytes' && last.kind !== 'bytes') {
        last.length += s.length;
        return;
      }
    }
    segments.push(s);
  };
  let padded = false;
  for (const t of text.matchAll(TOKEN)) {
    const tok = t[0];
    if (padded) return fail(n, '"..." (zero padding) must be the last token on the line');
    if (t[1] !== undefined || t[2] !== undefined) {
      const len = Number(t[1] ?? t[2]);
      if (len === 0) return fail(n, `${tok} has length 0`);
      push({ kind: t[1] !== undefined ? 'masked' : 'any', length: len });
    } else if (tok === '??') push({ kind: 'any', length: 1 });
    else if (tok === '...') {
      if (padTo === undefined) return fail(n, '"..." (zero padding to the report size) is only allowed for transport hid or udp at level unit');
      padded = true;
    } else if (/^[0-9a-fA-F]+$/.test(tok)) {
      if (tok.length % 2) return fail(n, `hex run "${tok.length > 20 ? tok.slice(0, 20) + '…' : tok}" has an odd number of digits`);
      const b = new Uint8Array(tok.length / 2);
      for (let i = 0; i < b.length; i++) b[i] = parseInt(tok.slice(i * 2, i * 2 + 2), 16);
      push({ kind: 'bytes', bytes: b });
    } else return fail(n, `"${tok}" is not hex, "??", "<masked N>", "<any N>" or "..."`);
  }
  const p: BytePattern = { segments };
  if (padded) {
    let len = 0;
    for (const s of segments) len += s.kind === 'bytes' ? s.bytes.length : s.length;
    if (len > padTo!) return fail(n, `${len} bytes before "..." exceed the report size ${padTo}`);
    p.padTo = padTo!;
  }
  return p;
}
