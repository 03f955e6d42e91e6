/**
 * The trace serializer: prints a `Trace` in the grammar `parseTrace` reads (fixtures/README.md),
 * so `parseTrace(serializeTrace(t))` gives `t` back (up to line numbers and whitespace).
 * HID reports are laid out as `CID CMD BCNT data…` / `CID SEQ data…` with trailing zeros
 * folded into `...`, which keeps 64-byte frames readable.
 */
import { TRACE_MAGIC, type BytePattern, type Trace, type TraceEntry } from './trace-model.ts';

type Item = number | 'any' | 'masked';

function flatten(p: BytePattern): Item[] {
  const out: Item[] = [];
  for (const s of p.segments) {
    if (s.kind === 'bytes') for (const b of s.bytes) out.push(b);
    else for (let i = 0; i < s.length; i++) out.push(s.kind);
  }
  return out;
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

function group(items: Item[], chunk: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < items.length) {
    const it = items[i]!;
    if (typeof it === 'number') {
      let s = '';
      let j = i;
      while (j < items.length && typeof items[j] === 'number' && j - i < chunk) s += hex2(items[j++] as number);
      out.push(s);
      i = j;
    } else {
      let j = i;
      while (j < items.length && items[j] === it) j++;
      const len = j - i;
      out.push(it === 'masked' ? `<masked ${len}>` : len <= 2 ? Array(len).fill('??').join(' ') : `<any ${len}>`);
      i = j;
    }
  }
  return out;
}

/**
 * Prints a byte pattern. With `hidLayout` the first fields of a CTAPHID frame (CID, CMD/SEQ,
 * BCNT) are set apart; data runs are grouped by 8 bytes.
 */
export function formatPattern(p: BytePattern, hidLayout: boolean | 'message' = false): string {
  const items = flatten(p);
  const parts: string[] = [];
  let rest = items;
  if (hidLayout === 'message' && items.length >= 1) {
    // CTAP message: the CTAPHID command byte, then the payload.
    parts.push(...group(items.slice(0, 1), 1));
    rest = items.slice(1);
  } else if (hidLayout === true && items.length >= 5) {
    const head = items.slice(0, 4);
    const b4 = items[4];
    const isInit = typeof b4 === 'number' && (b4 & 0x80) !== 0;
    parts.push(...group(head, 4));
    if (isInit && items.length >= 7) {
      parts.push(...group([b4], 1), ...group(items.slice(5, 7), 2));
      rest = items.slice(7);
    } else {
      parts.push(...group([b4!], 1));
      rest = items.slice(5);
    }
  }
  parts.push(...group(rest, 8));
  if (p.padTo !== undefined) parts.push('...');
  return parts.join(' ');
}

/** Prints one record line (without newline). */
export function formatEntry(e: TraceEntry, hidLayout: boolean | 'message' = false): string {
  switch (e.kind) {
    case 'send':
      return e.data ? `=> ${formatPattern(e.data, hidLayout)}` : '=> *';
    case 'recv':
      return `<= ${formatPattern(e.data, hidLayout)}`;
    case 'unsolicited':
      return `<~ ${formatPattern(e.data, hidLayout)}`;
    case 'fault':
      return ['!!', e.fault, e.code, e.text].filter((x) => x !== undefined && x !== '').join(' ');
    case 'event':
      return ['@', e.name, ...Object.entries(e.attrs).map(([k, v]) => `${k}=${v.replace(/\s/g, '_')}`)].join(' ');
    case 'delay':
      return `+${Math.round(e.ms * 1000) / 1000}`;
    case 'comment':
      return e.text === '' ? '#' : `# ${e.text}`;
  }
}

/** How a trace's byte lines are laid out: CTAPHID reports, CTAP messages, or plain. */
export function traceLayout(trace: Trace): boolean | 'message' {
  if (trace.header.level === 'message') return 'message';
  return trace.header.transport === 'hid' || trace.header.transport === 'udp';
}

/** Prints a whole trace: magic line, header fields, a blank line, then one line per record. */
export function serializeTrace(trace: Trace): string {
  const hidLayout = traceLayout(trace);
  const out = [TRACE_MAGIC];
  for (const [k, v] of trace.header.fields) out.push(`${k}: ${v.replace(/\r?\n/g, ' ')}`);
  out.push('');
  for (const e of trace.entries) out.push(formatEntry(e, hidLayout));
  return out.join('\n') + '\n';
}
