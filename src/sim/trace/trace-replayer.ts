/**
 * Strict trace replay at the HID report seam (Ledger's RecordStore, libfido2 `regress/mock.c`):
 * a `TraceReplayer` plays one recorded device; `open()` hands out `HidConnection`s that share
 * its cursor, so host code (CtapHidTransport + FidoClient) runs unchanged against a trace.
 *
 * Rules (fixtures/README.md "Replay"):
 * - A host write must match the next `=>` line (literal bytes exactly, `??`/`<masked N>` any
 *   byte, `...` zeros). `=> *` accepts any one host message: an init report plus the
 *   continuation reports its BCNT announces.
 * - A host read returns the next `<=`/`<~` line; `!! timeout|disconnect|error` lines make the
 *   read (or write) fail as recorded; `@` events are passed to `onEvent` when reached, and
 *   `@ detached` makes the device absent until `@ attached`.
 * - Nonce splice: a replayed INIT reply on the broadcast channel gets the nonce of the host's
 *   last INIT request (real hosts send fresh nonces; libfido2 `regress/mock.c` does the same).
 * - Any divergence raises `TraceMismatchError` (TRACE_MISMATCH) naming the trace line, the
 *   expected record and what the host did; the first one is also kept in `failure`, so a
 *   client that wraps errors cannot hide it from `assertConsumed()`.
 */
import type { HidConnection } from '../../drivers/hid-connection.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { CancelledError, DeviceBusyError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { parseTrace } from '../../protocol/trace/parse-trace.ts';
import { formatEntry, formatPattern } from '../../protocol/trace/serialize-trace.ts';
import { TraceMismatchError, TraceNotConsumedError } from '../../protocol/trace/trace-errors.ts';
import { literalPattern, matchPattern, patternBytes, type Trace, type TraceEntry } from '../../protocol/trace/trace-model.ts';
import { CTAPHID_CONT_HEADER, CTAPHID_INIT_HEADER, CTAPHID_REPORT_SIZE } from '../../protocol/ctaphid/constants.ts';
import { sleep } from '../../util/deadline.ts';

/** Options of `TraceReplayer`. */
export interface TraceReplayerOptions {
  /** File name used in error messages (default: none). */
  source?: string;
  /** Sleep for `+ms` lines (default false: timing lines are skipped, tests stay fast). */
  honorTiming?: boolean;
  /** Receives `@` events as the replay reaches them. */
  onEvent?: (name: string, attrs: Record<string, string>) => void;
  /**
   * What a host read gets when the trace expects the host to send next (or has ended):
   * `'error'` (default) raises `TraceMismatchError` at once; `'timeout'` waits `timeoutMs` and
   * raises `TimeoutError`, like a real device that has nothing to say.
   */
  starvedRead?: 'error' | 'timeout';
  /** Splice the host's INIT nonce into replayed INIT replies. Default true. */
  nonceSplice?: boolean;
}

const BROADCAST = 0xffffffff;

/** Recreates the error a recorded `!!` line stands for. */
export function faultError(e: Extract<TraceEntry, { kind: 'fault' }>): Error {
  const msg = `${e.text || e.fault} (replayed from trace line ${e.line})`;
  if (e.fault === 'timeout') return new TimeoutError(msg);
  if (e.fault === 'disconnect') return new DeviceRemovedError(msg);
  switch (e.code) {
    case 'TIMEOUT':
      return new TimeoutError(msg);
    case 'DEVICE_REMOVED':
      return new DeviceRemovedError(msg);
    case 'CANCELLED':
      return new CancelledError(msg);
    case 'DEVICE_BUSY':
      return new DeviceBusyError(msg);
    default:
      return new KeytapError(e.code ?? 'TRACE_RECORDED_ERROR', msg);
  }
}

/** A recorded HID device served from a trace. */
export class TraceReplayer {
  readonly trace: Trace;
  readonly reportSize: number;
  #pos = 0;
  #wildcardConts = 0;
  #nonce: Uint8Array | null = null;
  #removed = false;
  #failure: TraceMismatchError | null = null;
  readonly #o: TraceReplayerOptions;

  constructor(trace: Trace, options: TraceReplayerOptions = {}) {
    this.trace = trace;
    this.#o = options;
    this.reportSize = trace.header.reportSize ?? CTAPHID_REPORT_SIZE;
  }

  /** Parses `text` (errors name `options.source`) and returns a replayer for it. */
  static fromText(text: string, options: TraceReplayerOptions = {}): TraceReplayer {
    return new TraceReplayer(parseTrace(text, options.source ? { source: options.source } : {}), options);
  }

  /** The first mismatch of this replay, if any (also thrown to the host when it happened). */
  get failure(): TraceMismatchError | null {
    return this.#failure;
  }

  /** 1-based line of the next unconsumed record, or 0 at the end. */
  get nextLine(): number {
    return this.#peekRecord()?.line ?? 0;
  }

  /** Whether the device is currently attached (`@ detached` / `@ attached`). */
  get attached(): boolean {
    return !this.#removed;
  }

  /** Opens a connection to the recorded device (every connection shares the one cursor). */
  open(): HidConnection {
    if (this.#removed) throw new DeviceRemovedError('the recorded device is detached at this point of the trace');
    return new ReplayConnection(this);
  }

  /**
   * Throws the first mismatch if there was one, else `TraceNotConsumedError`
   * (TRACE_NOT_CONSUMED) when records are left (comments and timing lines do not count).
   */
  assertConsumed(): void {
    if (this.#failure) throw this.#failure;
    const rest = this.trace.entries.slice(this.#pos).filter((e) => e.kind !== 'comment' && e.kind !== 'delay');
    if (this.#wildcardConts > 0) {
      throw new TraceNotConsumedError(this.#lastLine(), 0, `${this.#wildcardConts} continuation report(s) of the "=> *" message`, this.#srcOpt());
    }
    if (rest.length) throw new TraceNotConsumedError(rest[0]!.line, rest.length, formatEntry(rest[0]!, this.#hid()), this.#srcOpt());
  }

  /** True while the host is still writing the continuation reports of a `=> *` message. */
  get awaitingHostContinuation(): boolean {
    return this.#wildcardConts > 0;
  }

  /** Remaining records (not comments/timing). */
  get remaining(): number {
    return this.trace.entries.slice(this.#pos).filter((e) => e.kind !== 'comment' && e.kind !== 'delay').length;
  }

  // ---- the cursor, used by ReplayConnection and TraceDevice ----

  #hid(): boolean {
    return this.trace.header.transport === 'hid' || this.trace.header.transport === 'udp';
  }
  #srcOpt(): { source?: string } {
    return this.#o.source ? { source: this.#o.source } : {};
  }
  #lastLine(): number {
    return this.trace.entries[this.trace.entries.length - 1]?.line ?? 1;
  }
  #peekRecord(): TraceEntry | undefined {
    for (let i = this.#pos; i < this.trace.entries.length; i++) {
      const e = this.trace.entries[i]!;
      if (e.kind !== 'comment' && e.kind !== 'delay') return e;
    }
    return undefined;
  }

  #mismatch(line: number, reason: string, expected: string, actual: string): TraceMismatchError {
    const err = new TraceMismatchError(line, reason, expected, actual, this.#srcOpt());
    this.#failure ??= err;
    return err;
  }

  /** Consumes comments, timing lines and events at the cursor. */
  async #advance(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const e = this.trace.entries[this.#pos];
      if (!e) return;
      if (e.kind === 'comment') this.#pos++;
      else if (e.kind === 'delay') {
        this.#pos++;
        if (this.#o.honorTiming && e.ms > 0) await sleep(e.ms, signal);
      } else if (e.kind === 'event') {
        this.#pos++;
        if (e.name === 'detached') this.#removed = true;
        if (e.name === 'attached') this.#removed = false;
        this.#o.onEvent?.(e.name, e.attrs);
      } else return;
    }
  }

  #describe(e: TraceEntry | undefined): string {
    return e ? formatEntry(e, this.#hid()) : '(end of trace)';
  }

  /** @internal A host write. */
  async hostWrite(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CancelledError('HID write cancelled');
    if (this.#failure) throw this.#failure;
    const actual = `=> ${formatPattern(literalPattern(report, report.length === this.reportSize ? this.reportSize : undefined), this.#hid())}`;
    if (this.#wildcardConts > 0 && (report[4]! & 0x80) === 0) {
      this.#wildcardConts--;
      return;
    }
    this.#wildcardConts = 0;
    await this.#advance(signal);
    if (this.#removed) throw new DeviceRemovedError('the recorded device is detached at this point of the trace');
    const e = this.trace.entries[this.#pos];
    if (!e) throw this.#mismatch(this.#lastLine(), 'the host wrote a report after the end of the trace', '(end of trace)', actual);
    if (e.kind === 'fault') {
      this.#pos++;
      if (e.fault === 'disconnect') this.#removed = true;
      throw faultError(e);
    }
    if (e.kind !== 'send') throw this.#mismatch(e.line, 'the host wrote a report where the trace expects the device to answer', this.#describe(e), actual);
    if (e.data) {
      const off = matchPattern(e.data, report);
      if (off !== null) throw this.#mismatch(e.line, `the host's report differs from the trace at byte ${off}`, this.#describe(e), actual);
    } else if (report.length >= CTAPHID_INIT_HEADER && report[4]! & 0x80) {
      const bcnt = (report[5]! << 8) | report[6]!;
      const first = report.length - CTAPHID_INIT_HEADER;
      this.#wildcardConts = bcnt > first ? Math.ceil((bcnt - first) / (report.length - CTAPHID_CONT_HEADER)) : 0;
    }
    this.#pos++;
    // Remember the host's INIT nonce (CTAP 2.1 §11.2.9.1.3) for the splice into the reply.
    if (report.length >= 15 && report[4] === 0x86 && report[0] === 0xff && report[1] === 0xff && report[2] === 0xff && report[3] === 0xff) {
      this.#nonce = report.slice(7, 15);
    }
  }

  /** @internal What the device sends next without waiting: the next `<=`/`<~`, or null when the host must send first. */
  takeDeviceReport(): Uint8Array | Error | null {
    const e = this.trace.entries[this.#pos];
    if (!e) return null;
    if (e.kind === 'fault') {
      this.#pos++;
      if (e.fault === 'disconnect') this.#removed = true;
      return faultError(e);
    }
    if (e.kind !== 'recv' && e.kind !== 'unsolicited') return null;
    this.#pos++;
    const bytes = patternBytes(e.data);
    // Only answers to this host get its nonce: a `<~` INIT reply belongs to another host.
    if (
      e.kind === 'recv' &&
      this.#o.nonceSplice !== false &&
      this.#nonce &&
      bytes.length >= 15 &&
      bytes[4] === 0x86 &&
      bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff
    ) {
      bytes.set(this.#nonce, 7);
    }
    return bytes;
  }

  /** @internal A host read. */
  async hostRead(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) throw new CancelledError('HID read cancelled');
    if (this.#failure) throw this.#failure;
    await this.#advance(signal);
    if (this.#removed) throw new DeviceRemovedError('the recorded device is detached at this point of the trace');
    const r = this.takeDeviceReport();
    if (r instanceof Error) throw r;
    if (r) return r;
    const e = this.trace.entries[this.#pos];
    if (this.#o.starvedRead === 'timeout') {
      await sleep(timeoutMs, signal);
      throw new TimeoutError(`no HID report within ${timeoutMs} ms (trace line ${e?.line ?? this.#lastLine()} expects the host to send)`);
    }
    throw this.#mismatch(
      e?.line ?? this.#lastLine(),
      e ? 'the host waits for a report where the trace expects the host to send' : 'the host waits for a report after the end of the trace',
      this.#describe(e),
      '(host read)',
    );
  }

  /** @internal Advances over events/timing (for device-side serving). */
  advance(signal?: AbortSignal): Promise<void> {
    return this.#advance(signal);
  }
}

class ReplayConnection implements HidConnection {
  readonly inputReportSize: number;
  readonly outputReportSize: number;
  #closed = false;
  constructor(private readonly r: TraceReplayer) {
    this.inputReportSize = r.reportSize;
    this.outputReportSize = r.reportSize;
  }
  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new DeviceRemovedError('replay connection is closed');
    if (report.length !== this.outputReportSize) throw new RangeError(`output report must be ${this.outputReportSize} bytes, got ${report.length}`);
    await this.r.hostWrite(report, signal);
  }
  async read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#closed) throw new DeviceRemovedError('replay connection is closed');
    return this.r.hostRead(timeoutMs, signal);
  }
  async close(): Promise<void> {
    this.#closed = true;
  }
}
