/**
 * Records a trace by decorating a `HidConnection` (every report the host writes and reads, as
 * it happens), with clientPIN secrets masked: `keytap record`, fixture capture on a bench, and
 * the PIN fixtures of the virtual authenticator.
 *
 * Masking (DESIGN.md §6, fixtures/README.md "Masking"): the recorder reassembles each CTAPHID
 * message before writing its reports to the trace; in clientPIN requests keyAgreement,
 * pinUvAuthParam, newPinEnc and pinHashEnc, in makeCredential/getAssertion requests
 * pinUvAuthParam, and in clientPIN responses pinUvAuthToken become `<masked N>`; INIT nonces
 * become `??`. If a message cannot be parsed, its whole payload is masked. A recording therefore
 * never holds a PIN, a token or anything derived from the shared secret.
 */
import type { HidConnection } from '../../drivers/hid-connection.ts';
import { CancelledError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { commandCarriesSecrets, requestSecretRanges, responseSecretRanges, type ByteRange } from '../../protocol/trace/ctap-secret-ranges.ts';
import { serializeTrace } from '../../protocol/trace/serialize-trace.ts';
import { patternFromBytes, type Trace, type TraceEntry, type TraceTransport } from '../../protocol/trace/trace-model.ts';
import { CTAPHID_CONT_HEADER, CTAPHID_INIT_HEADER, CtapHidCmd } from '../../protocol/ctaphid/constants.ts';
import { systemClock, type Clock } from '../../util/deadline.ts';

/** Header of a new recording. */
export interface TraceRecorderHeader {
  transport: TraceTransport;
  device: string;
  provenance: string;
  license?: string;
  /** `message` for recordings at the CtapTransport seam (`recordCtapTransport`). Default `unit`. */
  level?: 'unit' | 'message';
  /** More `key: value` header fields, in order. */
  fields?: Array<[string, string]>;
}

/** Options of `TraceRecorder`. */
export interface TraceRecorderOptions {
  /** Write `+ms` timing lines between records. Default false (fixtures stay diffable). */
  timing?: boolean;
  /** Clock for timing lines. Default `Date.now`. */
  clock?: Clock;
}

type Wild = Array<'masked' | 'any' | undefined>;
interface Pending {
  cid: number;
  cmd: number;
  bcnt: number;
  reports: Uint8Array[];
  times: number[];
  have: number;
}

const BROADCAST = 0xffffffff;
const hex8 = (r: Uint8Array, off: number): string => Array.from(r.subarray(off, off + 8), (b) => b.toString(16).padStart(2, '0')).join('');
const cidOf = (r: Uint8Array): number => ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;

/** Collects records from any number of wrapped connections into one trace. */
export class TraceRecorder {
  readonly #header: TraceRecorderHeader;
  readonly #entries: TraceEntry[] = [];
  readonly #timing: boolean;
  readonly #clock: Clock;
  #last: number | null = null;

  constructor(header: TraceRecorderHeader, options: TraceRecorderOptions = {}) {
    this.#header = header;
    this.#timing = options.timing ?? false;
    this.#clock = options.clock ?? systemClock;
  }

  /** Wraps a connection: I/O passes through unchanged and is recorded. */
  wrap(conn: HidConnection): HidConnection {
    return new RecordingConnection(conn, this);
  }

  /** Adds an `@ name k=v` event (hotplug, card, power cycle). */
  event(name: string, attrs: Record<string, string> = {}): void {
    this.add({ kind: 'event', line: 0, name, attrs }, this.#clock());
  }

  /** Adds a `# comment`. Never put a secret here. */
  note(text: string): void {
    this.#entries.push({ kind: 'comment', line: 0, text });
  }

  /** @internal */
  add(entry: TraceEntry, at: number): void {
    if (this.#timing && this.#last !== null && at - this.#last >= 1) this.#entries.push({ kind: 'delay', line: 0, ms: Math.round(at - this.#last) });
    if (this.#timing) this.#last = at;
    this.#entries.push(entry);
  }

  /** @internal */
  now(): number {
    return this.#clock();
  }

  /** The trace so far. */
  get trace(): Trace {
    const fields: Array<[string, string]> = [
      ['transport', this.#header.transport],
      ['device', this.#header.device],
      ['provenance', this.#header.provenance],
    ];
    if (this.#header.license) fields.push(['license', this.#header.license]);
    if (this.#header.level === 'message') fields.push(['level', 'message']);
    fields.push(...(this.#header.fields ?? []));
    const header: Trace['header'] = { version: 1, transport: this.#header.transport, device: this.#header.device, provenance: this.#header.provenance, fields };
    if (this.#header.license) header.license = this.#header.license;
    if (this.#header.level === 'message') header.level = 'message';
    return { header, entries: [...this.#entries] };
  }

  /** The trace as text (`serializeTrace`). */
  toText(): string {
    return serializeTrace(this.trace);
  }
}

/** Maps message-payload ranges onto the per-report wildcard maps of a CTAPHID message. */
function maskMessage(p: Pending, ranges: ReadonlyArray<ByteRange>, wild: Wild[]): void {
  const size = p.reports[0]!.length;
  const first = size - CTAPHID_INIT_HEADER;
  const cont = size - CTAPHID_CONT_HEADER;
  for (const [s, e] of ranges) {
    for (let off = s; off < e; off++) {
      if (off < first) wild[0]![CTAPHID_INIT_HEADER + off] = 'masked';
      else {
        const k = Math.floor((off - first) / cont);
        if (k + 1 < wild.length) wild[k + 1]![CTAPHID_CONT_HEADER + ((off - first) % cont)] = 'masked';
      }
    }
  }
}

function payloadOf(p: Pending): Uint8Array {
  const out = new Uint8Array(p.bcnt);
  let off = 0;
  p.reports.forEach((r, i) => {
    const data = i === 0 ? r.subarray(CTAPHID_INIT_HEADER) : r.subarray(CTAPHID_CONT_HEADER);
    const n = Math.min(data.length, p.bcnt - off);
    if (n > 0) out.set(data.subarray(0, n), off);
    off += n;
  });
  return out;
}

class RecordingConnection implements HidConnection {
  readonly inputReportSize: number;
  readonly outputReportSize: number;
  #out: Pending | null = null;
  #in: Pending | null = null;
  /** Channels this host wrote on: device frames on others are unsolicited (`<~`). */
  #hostCids = new Set<number>();
  /** Last CBOR command byte per channel, to know which response fields are secret. */
  #lastCommand = new Map<number, number>();
  /** This host's last INIT nonce: an INIT reply with another nonce answers another host (`<~`). */
  #nonce: string | null = null;

  constructor(
    private readonly inner: HidConnection,
    private readonly rec: TraceRecorder,
  ) {
    this.inputReportSize = inner.inputReportSize;
    this.outputReportSize = inner.outputReportSize;
  }

  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    const at = this.rec.now();
    try {
      await this.inner.write(report, signal);
    } catch (e) {
      this.#flushOut(true);
      this.#fault(e, at);
      throw e;
    }
    this.#onHostReport(report.slice(), at);
  }

  async read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    this.#flushOut(true);
    let r: Uint8Array;
    try {
      r = await this.inner.read(timeoutMs, signal);
    } catch (e) {
      this.#flushIn(true);
      this.#fault(e, this.rec.now());
      throw e;
    }
    this.#onDeviceReport(r.slice(), this.rec.now());
    return r;
  }

  async close(): Promise<void> {
    this.#flushOut(true);
    this.#flushIn(true);
    await this.inner.close();
  }

  #fault(e: unknown, at: number): void {
    // The host aborted: on replay the same abort happens before the device is asked again.
    if (e instanceof CancelledError) return;
    const text = e instanceof Error ? e.message.split('\n')[0]!.slice(0, 120) : String(e);
    if (e instanceof TimeoutError) this.rec.add({ kind: 'fault', line: 0, fault: 'timeout', text }, at);
    else if (e instanceof DeviceRemovedError) this.rec.add({ kind: 'fault', line: 0, fault: 'disconnect', text }, at);
    else if (e instanceof KeytapError) this.rec.add({ kind: 'fault', line: 0, fault: 'error', code: e.code, text }, at);
    else this.rec.add({ kind: 'fault', line: 0, fault: 'error', code: 'IO_ERROR', text }, at);
  }

  #onHostReport(r: Uint8Array, at: number): void {
    const cid = cidOf(r);
    this.#hostCids.add(cid);
    if (r[4]! & 0x80) {
      this.#flushOut(true);
      const p: Pending = { cid, cmd: r[4]! & 0x7f, bcnt: (r[5]! << 8) | r[6]!, reports: [r], times: [at], have: r.length - CTAPHID_INIT_HEADER };
      if (p.cmd === CtapHidCmd.CBOR && p.bcnt > 0) this.#lastCommand.set(cid, r[CTAPHID_INIT_HEADER]!);
      if (p.cmd === CtapHidCmd.INIT && cid === BROADCAST) this.#nonce = hex8(r, CTAPHID_INIT_HEADER);
      this.#out = p;
      if (p.have >= p.bcnt) this.#flushOut(false);
    } else if (this.#out && this.#out.cid === cid) {
      this.#out.reports.push(r);
      this.#out.times.push(at);
      this.#out.have += r.length - CTAPHID_CONT_HEADER;
      if (this.#out.have >= this.#out.bcnt) this.#flushOut(false);
    } else {
      // A stray continuation (no init seen): its bytes may belong to a secret; mask the data.
      const wild: Wild = new Array(r.length).fill(undefined);
      for (let i = CTAPHID_CONT_HEADER; i < r.length; i++) wild[i] = 'masked';
      this.rec.add({ kind: 'send', line: 0, data: patternFromBytes(r, wild, r.length) }, at);
    }
  }

  #flushOut(partial: boolean): void {
    const p = this.#out;
    if (!p) return;
    this.#out = null;
    const wild: Wild[] = p.reports.map((r) => new Array(r.length).fill(undefined));
    if (p.cmd === CtapHidCmd.INIT && p.cid === BROADCAST) {
      for (let i = CTAPHID_INIT_HEADER; i < CTAPHID_INIT_HEADER + 8 && i < wild[0]!.length; i++) wild[0]![i] = 'any';
    } else if (p.cmd === CtapHidCmd.CBOR && p.bcnt > 0) {
      const command = p.reports[0]![CTAPHID_INIT_HEADER]!;
      const ranges: ByteRange[] = partial && commandCarriesSecrets(command) ? [[1, p.bcnt]] : requestSecretRanges(payloadOf(p));
      maskMessage(p, ranges, wild);
    }
    p.reports.forEach((r, i) => this.rec.add({ kind: 'send', line: 0, data: patternFromBytes(r, wild[i]!, r.length) }, p.times[i]!));
  }

  #onDeviceReport(r: Uint8Array, at: number): void {
    const cid = cidOf(r);
    const foreignInit = cid === BROADCAST && r[4] === (0x80 | CtapHidCmd.INIT) && this.#nonce !== null && hex8(r, CTAPHID_INIT_HEADER) !== this.#nonce;
    const unsolicited = !this.#hostCids.has(cid) || foreignInit;
    const command = this.#lastCommand.get(cid);
    const secretive = command !== undefined && commandCarriesSecrets(command);
    if (r[4]! & 0x80) {
      this.#flushIn(true);
      const p: Pending = { cid, cmd: r[4]! & 0x7f, bcnt: (r[5]! << 8) | r[6]!, reports: [r], times: [at], have: r.length - CTAPHID_INIT_HEADER };
      if (!unsolicited && p.cmd === CtapHidCmd.CBOR && secretive) {
        this.#in = p;
        if (p.have >= p.bcnt) this.#flushIn(false);
        return;
      }
      const wild: Wild = [];
      // The INIT reply echoes the host's nonce; replay splices the live one in (fixtures/README.md).
      if (p.cmd === CtapHidCmd.INIT && cid === BROADCAST) for (let i = CTAPHID_INIT_HEADER; i < CTAPHID_INIT_HEADER + 8; i++) wild[i] = 'any';
      this.rec.add({ kind: unsolicited ? 'unsolicited' : 'recv', line: 0, data: patternFromBytes(r, wild, r.length) }, at);
      return;
    }
    if (this.#in && this.#in.cid === cid) {
      this.#in.reports.push(r);
      this.#in.times.push(at);
      this.#in.have += r.length - CTAPHID_CONT_HEADER;
      if (this.#in.have >= this.#in.bcnt) this.#flushIn(false);
      return;
    }
    this.rec.add({ kind: unsolicited ? 'unsolicited' : 'recv', line: 0, data: patternFromBytes(r, [], r.length) }, at);
  }

  #flushIn(partial: boolean): void {
    const p = this.#in;
    if (!p) return;
    this.#in = null;
    const wild: Wild[] = p.reports.map((r) => new Array(r.length).fill(undefined));
    const command = this.#lastCommand.get(p.cid)!;
    const ranges: ByteRange[] = partial ? [[1, p.bcnt]] : responseSecretRanges(command, payloadOf(p));
    maskMessage(p, ranges, wild);
    p.reports.forEach((r, i) => this.rec.add({ kind: 'recv', line: 0, data: patternFromBytes(r, wild[i]!, r.length) }, p.times[i]!));
  }
}
