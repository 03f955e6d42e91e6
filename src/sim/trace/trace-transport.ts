/**
 * Record and replay at the message seam (DESIGN.md §1: "the recorder is a decorator around a
 * Transport; the replayer is a Transport"): one `=>` line per `CtapTransport.exchange`
 * (`cmd ‖ payload`), one `<=` per reply, keepalive status changes as `@ keepalive status=...`.
 * Works for every transport that presents a `CtapTransport`: USB HID, UDP, and CTAP over NFC
 * through PC/SC (`CtapNfcTransport`), where the wire units are APDUs. Header `level: message`.
 * Masking is the unit recorder's: clientPIN and pinUvAuthParam secrets become `<masked N>`.
 */
import type { CtapTransport, ExchangeOptions, KeepaliveStatus } from '../../fido/ctap-transport.ts';
import { CancelledError, TimeoutError, DeviceRemovedError } from '../../protocol/transport-errors.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { requestSecretRanges, responseSecretRanges } from '../../protocol/trace/ctap-secret-ranges.ts';
import { parseTrace } from '../../protocol/trace/parse-trace.ts';
import { formatEntry, formatPattern } from '../../protocol/trace/serialize-trace.ts';
import { TraceMismatchError, TraceNotConsumedError } from '../../protocol/trace/trace-errors.ts';
import { literalPattern, matchPattern, patternBytes, patternFromBytes, type Trace, type TraceEntry } from '../../protocol/trace/trace-model.ts';
import { CtapHidCmd } from '../../protocol/ctaphid/constants.ts';
import { concatBytes } from '../../util/bytes.ts';
import { faultError } from './trace-replayer.ts';
import type { TraceRecorder } from './trace-recorder.ts';

function masked(bytes: Uint8Array, ranges: ReadonlyArray<readonly [number, number]>, shift: number) {
  const wild: Array<'masked' | undefined> = new Array(bytes.length).fill(undefined);
  for (const [s, e] of ranges) for (let i = s + shift; i < e + shift && i < bytes.length; i++) wild[i] = 'masked';
  return patternFromBytes(bytes, wild);
}

/**
 * Wraps `t` so every exchange is recorded into `rec` (which must have been created with
 * `level: 'message'`). Errors are recorded as `!!` lines and rethrown.
 */
export function recordCtapTransport(t: CtapTransport, rec: TraceRecorder): CtapTransport {
  return {
    kind: t.kind,
    descriptor: t.descriptor,
    capabilities: t.capabilities,
    async exchange(cmd: number, payload: Uint8Array, o: ExchangeOptions = {}): Promise<Uint8Array> {
      const message = concatBytes(Uint8Array.of(cmd), payload);
      const isCbor = cmd === CtapHidCmd.CBOR;
      rec.add({ kind: 'send', line: 0, data: masked(message, isCbor ? requestSecretRanges(payload) : [], 1) }, rec.now());
      try {
        const reply = await t.exchange(cmd, payload, {
          ...o,
          onKeepalive: (s: KeepaliveStatus) => {
            rec.add({ kind: 'event', line: 0, name: 'keepalive', attrs: { status: s } }, rec.now());
            o.onKeepalive?.(s);
          },
        });
        rec.add({ kind: 'recv', line: 0, data: masked(reply, isCbor && payload.length ? responseSecretRanges(payload[0]!, reply) : [], 0) }, rec.now());
        return reply;
      } catch (e) {
        if (!(e instanceof CancelledError)) {
          const text = e instanceof Error ? e.message.split('\n')[0]!.slice(0, 120) : String(e);
          if (e instanceof TimeoutError) rec.add({ kind: 'fault', line: 0, fault: 'timeout', text }, rec.now());
          else if (e instanceof DeviceRemovedError) rec.add({ kind: 'fault', line: 0, fault: 'disconnect', text }, rec.now());
          else rec.add({ kind: 'fault', line: 0, fault: 'error', code: (e as KeytapError).code ?? 'IO_ERROR', text }, rec.now());
        }
        throw e;
      }
    },
    close: () => t.close(),
  };
}

/** Options of `TraceTransportReplayer`. */
export interface TraceTransportReplayerOptions {
  source?: string;
  /** CTAPHID capabilities to report (default 0x0d: WINK | CBOR | NMSG, or the header's `capabilities`). */
  capabilities?: number;
  onEvent?: (name: string, attrs: Record<string, string>) => void;
}

/** A `CtapTransport` that plays a `level: message` trace strictly. */
export class TraceTransportReplayer implements CtapTransport {
  readonly kind: CtapTransport['kind'];
  readonly descriptor: string;
  readonly capabilities: number;
  readonly trace: Trace;
  #pos = 0;
  #failure: TraceMismatchError | null = null;

  constructor(trace: Trace, private readonly o: TraceTransportReplayerOptions = {}) {
    if (trace.header.level !== 'message') throw new KeytapError('TRACE_LEVEL', 'TraceTransportReplayer needs a trace with "level: message" (use TraceReplayer for HID reports)');
    this.trace = trace;
    const tr = trace.header.transport;
    this.kind = tr === 'nfc' || tr === 'pcsc' ? 'nfc' : tr === 'udp' ? 'udp' : tr === 'hid' ? 'usb' : 'virtual';
    this.descriptor = `trace:${o.source ?? trace.header.device}`;
    const capField = trace.header.fields.find(([k]) => k === 'capabilities')?.[1];
    this.capabilities = o.capabilities ?? (capField ? Number(capField) : 0x0d);
  }

  static fromText(text: string, o: TraceTransportReplayerOptions = {}): TraceTransportReplayer {
    return new TraceTransportReplayer(parseTrace(text, o.source ? { source: o.source } : {}), o);
  }

  get failure(): TraceMismatchError | null {
    return this.#failure;
  }

  #src() {
    return this.o.source ? { source: this.o.source } : {};
  }
  #mismatch(line: number, reason: string, expected: string, actual: string): TraceMismatchError {
    const e = new TraceMismatchError(line, reason, expected, actual, this.#src());
    this.#failure ??= e;
    return e;
  }
  #skip(): void {
    while (this.trace.entries[this.#pos]?.kind === 'comment' || this.trace.entries[this.#pos]?.kind === 'delay') this.#pos++;
  }

  async exchange(cmd: number, payload: Uint8Array, o: ExchangeOptions = {}): Promise<Uint8Array> {
    if (o.signal?.aborted) throw new CancelledError('request was cancelled before it was sent');
    if (this.#failure) throw this.#failure;
    const message = concatBytes(Uint8Array.of(cmd), payload);
    const actual = `=> ${formatPattern(literalPattern(message), 'message')}`;
    this.#skip();
    while (this.trace.entries[this.#pos]?.kind === 'event') {
      const e = this.trace.entries[this.#pos++] as Extract<TraceEntry, { kind: 'event' }>;
      this.o.onEvent?.(e.name, e.attrs);
      this.#skip();
    }
    const e = this.trace.entries[this.#pos];
    const last = this.trace.entries[this.trace.entries.length - 1]?.line ?? 1;
    if (!e) throw this.#mismatch(last, 'the host sent a message after the end of the trace', '(end of trace)', actual);
    if (e.kind !== 'send') throw this.#mismatch(e.line, 'the host sent a message where the trace expects the device to answer', formatEntry(e, 'message'), actual);
    if (e.data) {
      const off = matchPattern(e.data, message);
      if (off !== null) throw this.#mismatch(e.line, `the host's message differs from the trace at byte ${off}`, formatEntry(e, 'message'), actual);
    }
    this.#pos++;
    for (;;) {
      this.#skip();
      const r = this.trace.entries[this.#pos];
      if (!r) throw this.#mismatch(last, 'the trace ended before the device answered', '<= ...', '(host waits for the reply)');
      this.#pos++;
      if (r.kind === 'event') {
        if (r.name === 'keepalive' && (r.attrs.status === 'processing' || r.attrs.status === 'up-needed')) o.onKeepalive?.(r.attrs.status);
        else this.o.onEvent?.(r.name, r.attrs);
        continue;
      }
      if (r.kind === 'recv' || r.kind === 'unsolicited') return patternBytes(r.data);
      if (r.kind === 'fault') throw faultError(r);
      this.#pos--;
      throw this.#mismatch(r.line, 'the trace expects another host message before the device answers', formatEntry(r, 'message'), '(host waits for the reply)');
    }
  }

  /** Records left (not comments or timing). */
  get remaining(): number {
    return this.trace.entries.slice(this.#pos).filter((e) => e.kind !== 'comment' && e.kind !== 'delay').length;
  }

  /** Throws the first mismatch, or `TraceNotConsumedError` when records are left. */
  assertConsumed(): void {
    if (this.#failure) throw this.#failure;
    const rest = this.trace.entries.slice(this.#pos).filter((e) => e.kind !== 'comment' && e.kind !== 'delay');
    if (rest.length) throw new TraceNotConsumedError(rest[0]!.line, rest.length, formatEntry(rest[0]!, 'message'), this.#src());
  }

  async close(): Promise<void> {}
}
