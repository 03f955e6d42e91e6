/**
 * Serial badge readers in traces (`transport: serial`): a reader pushes frames unasked, so its
 * bytes are `<~` lines (one per chunk as the port delivered it), host writes are `=>` lines,
 * the port opening/closing is `@ attached` / `@ detached`, and with timing on, `+ms` lines keep
 * the reader's repeat rate (which presence detection depends on).
 *
 * `recordingSerialOptions` tees a `SerialLink`'s callbacks into a `TraceRecorder`;
 * `SerialTracePlayer` plays a trace back as a reader would: device chunks to `onData` (waiting
 * the recorded gaps when asked), host writes matched strictly against `=>` lines.
 */
import type { SerialLinkOptions } from '../../drivers/serial/serial-link.ts';
import { parseTrace } from '../../protocol/trace/parse-trace.ts';
import { formatEntry, formatPattern } from '../../protocol/trace/serialize-trace.ts';
import { TraceMismatchError, TraceNotConsumedError } from '../../protocol/trace/trace-errors.ts';
import { literalPattern, matchPattern, patternBytes, type Trace } from '../../protocol/trace/trace-model.ts';
import { sleep } from '../../util/deadline.ts';
import type { TraceRecorder } from './trace-recorder.ts';

/** Wraps a SerialLink's options so every chunk and open/close is also recorded into `rec`. */
export function recordingSerialOptions(options: SerialLinkOptions, rec: TraceRecorder): SerialLinkOptions & { recordWrite(bytes: Uint8Array): void } {
  return {
    ...options,
    onData(chunk) {
      rec.add({ kind: 'unsolicited', line: 0, data: literalPattern(chunk) }, rec.now());
      options.onData(chunk);
    },
    onState(open, error) {
      rec.add({ kind: 'event', line: 0, name: open ? 'attached' : 'detached', attrs: error ? { error: error.replace(/\s+/g, '_').slice(0, 80) } : {} }, rec.now());
      options.onState(open, error);
    },
    recordWrite(bytes) {
      rec.add({ kind: 'send', line: 0, data: literalPattern(bytes) }, rec.now());
    },
  };
}

/** Options of `SerialTracePlayer`. */
export interface SerialTracePlayerOptions {
  source?: string;
  /** Wait the recorded `+ms` gaps (default false). */
  honorTiming?: boolean;
  onData(chunk: Uint8Array): void;
  onState?(open: boolean): void;
}

/** Plays a serial trace as the recorded reader. */
export class SerialTracePlayer {
  readonly trace: Trace;
  #pos = 0;
  #failure: TraceMismatchError | null = null;

  constructor(trace: Trace, private readonly o: SerialTracePlayerOptions) {
    this.trace = trace;
  }

  static fromText(text: string, o: SerialTracePlayerOptions): SerialTracePlayer {
    return new SerialTracePlayer(parseTrace(text, o.source ? { source: o.source } : {}), o);
  }

  /** Delivers device chunks and events up to the next host write (`=>`) or the end. */
  async play(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const e = this.trace.entries[this.#pos];
      if (!e || e.kind === 'send') return;
      this.#pos++;
      if (e.kind === 'delay' && this.o.honorTiming) await sleep(e.ms, signal);
      else if (e.kind === 'recv' || e.kind === 'unsolicited') this.o.onData(patternBytes(e.data));
      else if (e.kind === 'event' && (e.name === 'attached' || e.name === 'detached')) this.o.onState?.(e.name === 'attached');
    }
  }

  /** A host write: must match the next `=>` line; then the reader's answer plays. */
  async write(bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#failure) throw this.#failure;
    await this.play(signal);
    const e = this.trace.entries[this.#pos];
    const actual = `=> ${formatPattern(literalPattern(bytes))}`;
    const src = this.o.source ? { source: this.o.source } : {};
    if (!e) throw (this.#failure = new TraceMismatchError(this.trace.entries[this.trace.entries.length - 1]?.line ?? 1, 'the host wrote after the end of the trace', '(end of trace)', actual, src));
    const off = e.kind === 'send' && e.data ? matchPattern(e.data, bytes) : null;
    if (off !== null) throw (this.#failure = new TraceMismatchError(e.line, `the host's bytes differ from the trace at byte ${off}`, formatEntry(e), actual, src));
    this.#pos++;
    await this.play(signal);
  }

  assertConsumed(): void {
    if (this.#failure) throw this.#failure;
    const rest = this.trace.entries.slice(this.#pos).filter((e) => e.kind !== 'comment' && e.kind !== 'delay');
    if (rest.length) throw new TraceNotConsumedError(rest[0]!.line, rest.length, formatEntry(rest[0]!), this.o.source ? { source: this.o.source } : {});
  }
}
