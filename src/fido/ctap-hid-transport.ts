/**
 * CTAP over HID (CTAP 2.1 §11.2) on any `HidConnection` (node-hid, UDP, the in-memory virtual
 * key). Owns the connection: `close()` closes it.
 *
 * What it guarantees (DESIGN.md §3, fido.md §1-2, §16 "Transport"):
 * - INIT with a random 8-byte nonce on the broadcast channel; only a 17-byte reply with our
 *   nonce is accepted, other INIT replies (other processes) are ignored.
 * - Frames on other channels are skipped (browsers, ssh and pam-u2f share the key).
 * - CTAPHID_ERROR CHANNEL_BUSY is retried with growing back-off (100 ms, 200 ms, … capped at
 *   1 s) until the deadline; other CTAPHID errors become `CtapHidError`.
 * - Keepalives are reported once per change of status.
 * - One `Deadline` budget covers every write and read of a request, including busy retries; a
 *   keepalive watchdog fails a device that goes silent after it started keepalives.
 * - Abort: CTAPHID_CANCEL on the channel (after a multi-packet write completes, as Chromium
 *   defers it), a short wait for the 0x2D answer, then `CancelledError`.
 */
import type { CtapTransport, ExchangeOptions, KeepaliveStatus as TransportKeepalive } from './ctap-transport.ts';
import type { HidConnection } from '../drivers/hid-connection.ts';
import { BROADCAST_CID, CtapHidCmd, CtapHidErrorCode, ctapHidMaxMessage } from '../protocol/ctaphid/constants.ts';
import { encodeFrames } from '../protocol/ctaphid/framing.ts';
import { CtapHidAssembler, type CtapHidMessage } from '../protocol/ctaphid/assembler.ts';
import { decodeInitResponse, encodeInitRequest, isInitReplyFor, type CtapHidInitResponse } from '../protocol/ctaphid/init.ts';
import { decodeKeepalive } from '../protocol/ctaphid/keepalive.ts';
import { CtapHidError, decodeCtapHidErrorPayload } from '../protocol/ctaphid/errors.ts';
import { CancelledError, DeviceBusyError, ProtocolError, TimeoutError } from '../protocol/transport-errors.ts';
import { KeytapError } from '../protocol/errors.ts';
import { Deadline, sleep, systemClock, type Clock } from '../util/deadline.ts';
import { randomBytes } from 'node:crypto';
import { toHex } from '../util/bytes.ts';

/** Default budget of a CBOR request: touch prompts wait up to 30 s (libfido2 and python-fido2 use similar). */
export const DEFAULT_CBOR_BUDGET_MS = 30_000;
/** Default budget of INIT (a key that does not answer INIT in 3 s is not going to; python-fido2#140). */
export const DEFAULT_INIT_BUDGET_MS = 3_000;
/** Default budget of other commands (PING, WINK, MSG). */
export const DEFAULT_SHORT_BUDGET_MS = 5_000;
/** Silence after a keepalive that fails the request (keepalives come every ~100 ms; OpenSK). */
export const DEFAULT_KEEPALIVE_SILENCE_MS = 5_000;
/** How long to wait for the 0x2D answer after CANCEL. */
export const CANCEL_ANSWER_WAIT_MS = 500;
/** CHANNEL_BUSY back-off: first wait, growth and cap (python-fido2 retries every 100 ms). */
const BUSY_FIRST_MS = 100;
const BUSY_MAX_MS = 1_000;

/** Options for `CtapHidTransport.open`. */
export interface CtapHidTransportOptions {
  /** `'usb'` for node-hid, `'udp'`, or `'virtual'`. Default `'usb'`. */
  kind?: CtapTransport['kind'];
  /** Human-readable address (`/dev/hidraw3`, `udp://127.0.0.1:8111`). */
  descriptor?: string;
  /** Cancels the INIT. */
  signal?: AbortSignal;
  /** Budget for INIT; capped at `initBudgetMs`. */
  deadline?: Deadline;
  /** Default 3000 ms. */
  initBudgetMs?: number;
  /** Default budget of a CBOR exchange without a deadline. Default 30 000 ms. */
  cborBudgetMs?: number;
  /** Keepalive watchdog. Default 5000 ms. */
  keepaliveSilenceMs?: number;
  /** Randomness for the INIT nonce. Default `crypto.randomBytes`. */
  random?: (n: number) => Uint8Array;
  /** Clock for default deadlines. Default `Date.now`. */
  clock?: Clock;
}

/** CTAPHID transport over a `HidConnection`. Create with `CtapHidTransport.open`. */
export class CtapHidTransport implements CtapTransport {
  readonly kind: CtapTransport['kind'];
  readonly descriptor: string;
  readonly capabilities: number;
  /** The channel INIT allocated. */
  readonly cid: number;
  /** The INIT reply (version, capabilities). */
  readonly init: CtapHidInitResponse;
  /** Frames on other channels skipped so far (observability and tests). */
  ignoredFrames = 0;
  #maxMessage: number;
  readonly #conn: HidConnection;
  readonly #clock: Clock;
  readonly #cborBudget: number;
  readonly #silence: number;
  #queue: Promise<unknown> = Promise.resolve();
  /** Exchanges started or queued and not yet settled. */
  #pending = 0;
  #closed = false;
  /** Set when a request ended without its reply (timeout, cancel): a late reply may still come. */
  #interrupted = false;
  readonly #random: (n: number) => Uint8Array;

  private constructor(conn: HidConnection, init: CtapHidInitResponse, o: CtapHidTransportOptions) {
    this.#conn = conn;
    this.init = init;
    this.cid = init.cid;
    this.capabilities = init.capabilities;
    this.kind = o.kind ?? 'usb';
    this.descriptor = o.descriptor ?? '(hid)';
    this.#clock = o.clock ?? systemClock;
    this.#cborBudget = o.cborBudgetMs ?? DEFAULT_CBOR_BUDGET_MS;
    this.#silence = o.keepaliveSilenceMs ?? DEFAULT_KEEPALIVE_SILENCE_MS;
    this.#maxMessage = ctapHidMaxMessage(Math.min(conn.inputReportSize, conn.outputReportSize));
    this.#random = o.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  /**
   * Runs INIT on `conn` and returns the transport. On failure the connection is closed.
   * Rejects with `TimeoutError` when no matching INIT reply arrives within the budget.
   */
  static async open(conn: HidConnection, options: CtapHidTransportOptions = {}): Promise<CtapHidTransport> {
    const clock = options.clock ?? systemClock;
    const budget = options.initBudgetMs ?? DEFAULT_INIT_BUDGET_MS;
    const deadline = options.deadline ? options.deadline.capped(budget) : Deadline.in(budget, clock);
    const nonce = (options.random ?? ((n) => new Uint8Array(randomBytes(n))))(8);
    try {
      for (const f of encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, encodeInitRequest(nonce), conn.outputReportSize)) {
        await conn.write(f, options.signal);
      }
      const assembler = new CtapHidAssembler({ expectedCid: BROADCAST_CID, reportSize: conn.inputReportSize });
      for (;;) {
        deadline.check('CTAPHID INIT');
        const report = await conn.read(Math.max(1, deadline.remaining()), options.signal);
        const r = assembler.push(report, clock());
        if (r.kind !== 'complete') continue;
        // Another process's INIT reply (other nonce) or a stray broadcast frame: not ours.
        if (!isInitReplyFor(r.message, nonce)) continue;
        const init = decodeInitResponse(r.message.payload);
        if (init.cid === 0 || init.cid === BROADCAST_CID) throw new ProtocolError(`INIT allocated an invalid channel ${toHex(r.message.payload.subarray(8, 12))}`);
        return new CtapHidTransport(conn, init, options);
      }
    } catch (e) {
      await conn.close().catch(() => undefined);
      if (e instanceof TimeoutError) throw new TimeoutError('the key did not answer CTAPHID INIT in time (unplug and re-insert it?)', { cause: e });
      throw e;
    }
  }

  /** Largest request payload this transport sends: min(CTAPHID limit 7609, getInfo maxMsgSize). */
  get maxMessageSize(): number {
    return this.#maxMessage;
  }

  /** Lowers the limit to getInfo `maxMsgSize` (never raises it above the CTAPHID limit). */
  limitMessageSize(maxMsgSize: number): void {
    if (Number.isInteger(maxMsgSize) && maxMsgSize > 0) this.#maxMessage = Math.min(this.#maxMessage, maxMsgSize);
  }

  exchange(cmd: number, payload: Uint8Array, options: ExchangeOptions = {}): Promise<Uint8Array> {
    // One request at a time on a channel: queue behind whatever is running. An idle channel
    // starts at once, so the first report is written before this returns and the caller can
    // work (make its ephemeral key, say) while the key processes the request.
    const run = this.#pending === 0 ? this.#exchange(cmd, payload, options) : this.#queue.then(() => this.#exchange(cmd, payload, options));
    this.#pending++;
    const settled = run.then(
      () => void this.#pending--,
      () => void this.#pending--,
    );
    this.#queue = settled;
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#conn.close();
  }

  async #exchange(cmd: number, payload: Uint8Array, options: ExchangeOptions): Promise<Uint8Array> {
    const { signal, onKeepalive } = options;
    const deadline =
      options.deadline ?? Deadline.in(cmd === CtapHidCmd.CBOR || cmd === CtapHidCmd.MSG ? this.#cborBudget : DEFAULT_SHORT_BUDGET_MS, this.#clock);
    if (this.#closed) throw new ProtocolError('transport is closed', { code: 'TRANSPORT_CLOSED' });
    if (signal?.aborted) throw new CancelledError('request was cancelled before it was sent', { cause: signal.reason });
    if (payload.length > this.#maxMessage) {
      throw new KeytapError('REQUEST_TOO_LARGE', `request of ${payload.length} bytes exceeds the key's maximum message size of ${this.#maxMessage} bytes`, {
        details: { length: payload.length, max: this.#maxMessage },
      });
    }
    if (this.#interrupted) await this.#resync(deadline, signal);
    const frames = encodeFrames(this.cid, cmd, payload, this.#conn.outputReportSize);
    let busyWait = BUSY_FIRST_MS;
    let sawBusy = false;
    let lastKeepalive: TransportKeepalive | null = null;
    for (;;) {
      deadline.check('CTAPHID request');
      // Write every frame even if aborted meanwhile: a half-written message would leave the
      // channel mid-assembly (Chromium kWritingPendingCancel); the cancel follows the write.
      for (const f of frames) await this.#conn.write(f);
      if (signal?.aborted) return this.#cancel(signal);
      const assembler = new CtapHidAssembler({ expectedCid: this.cid, reportSize: this.#conn.inputReportSize });
      let sawKeepalive = false;
      let reply: CtapHidMessage | null = null;
      while (reply === null) {
        const left = deadline.remaining();
        if (left <= 0) return this.#timeout(sawKeepalive, lastKeepalive, sawBusy);
        const wait = sawKeepalive ? Math.min(left, this.#silence) : left;
        let report: Uint8Array;
        try {
          report = await this.#conn.read(wait, signal);
        } catch (e) {
          if (e instanceof CancelledError || signal?.aborted) return this.#cancel(signal);
          if (e instanceof TimeoutError) {
            if (sawKeepalive && deadline.remaining() > 0) {
              await this.#sendCancel();
              throw new TimeoutError(`the key stopped answering: no report for ${this.#silence} ms after a keepalive`, { cause: e });
            }
            return this.#timeout(sawKeepalive, lastKeepalive, sawBusy);
          }
          throw e;
        }
        const r = this.#pushReport(assembler, report);
        if (r === null) continue;
        if (r.cmd === CtapHidCmd.KEEPALIVE) {
          sawKeepalive = true;
          const ka = decodeKeepalive(r.payload);
          const status: TransportKeepalive | null = ka.state === 'processing' ? 'processing' : ka.state === 'upneeded' ? 'up-needed' : null;
          if (status !== null && status !== lastKeepalive) {
            lastKeepalive = status;
            onKeepalive?.(status);
          }
          continue;
        }
        reply = r;
      }
      if (reply.cmd === CtapHidCmd.ERROR) {
        const code = decodeCtapHidErrorPayload(reply.payload);
        if (code === CtapHidErrorCode.CHANNEL_BUSY) {
          sawBusy = true;
          // Another channel holds the key (CTAP 2.1 §11.2.9.1.6): back off and resend, within budget.
          const left = deadline.remaining();
          if (left <= 0) throw new DeviceBusyError('the key stayed busy with another application until the deadline', { details: { hidError: code } });
          await sleep(Math.min(busyWait, left), signal);
          busyWait = Math.min(busyWait * 2, BUSY_MAX_MS);
          if (deadline.expired()) throw new DeviceBusyError('the key stayed busy with another application until the deadline', { details: { hidError: code } });
          continue;
        }
        throw new CtapHidError(code, `CTAPHID command 0x${cmd.toString(16)}`);
      }
      if (reply.cmd !== cmd) {
        throw new ProtocolError(`the key answered command 0x${reply.cmd.toString(16)} to a 0x${cmd.toString(16)} request`, {
          details: { expected: cmd, got: reply.cmd },
        });
      }
      return reply.payload;
    }
  }

  /** Feeds one report; returns a complete message on our channel, or null. */
  #pushReport(assembler: CtapHidAssembler, report: Uint8Array): CtapHidMessage | null {
    const r = assembler.push(report, this.#clock());
    switch (r.kind) {
      case 'complete':
        return r.message;
      case 'pending':
        return null;
      case 'ignored-foreign-channel':
        this.ignoredFrames++;
        return null;
      case 'error':
        throw new ProtocolError(`malformed reply from the key: ${r.error.message}`, { cause: r.error, code: 'PROTOCOL_ERROR' });
    }
  }

  async #sendCancel(): Promise<void> {
    this.#interrupted = true;
    try {
      for (const f of encodeFrames(this.cid, CtapHidCmd.CANCEL, new Uint8Array(0), this.#conn.outputReportSize)) await this.#conn.write(f);
    } catch {
      // the key may be gone; the caller reports the original reason
    }
  }

  /**
   * After an interrupted request the key may still send that request's reply, which would
   * otherwise be taken for the next one's (or break its assembly). INIT on our own channel
   * resynchronises it (CTAP 2.1 §11.2.9.1.3: the key drops any pending transaction); every
   * report before the INIT reply with our nonce is discarded.
   */
  async #resync(deadline: Deadline, signal: AbortSignal | undefined): Promise<void> {
    const nonce = this.#random(8);
    for (const f of encodeFrames(this.cid, CtapHidCmd.INIT, encodeInitRequest(nonce), this.#conn.outputReportSize)) await this.#conn.write(f, signal);
    const until = deadline.capped(DEFAULT_SHORT_BUDGET_MS);
    const assembler = new CtapHidAssembler({ expectedCid: this.cid, reportSize: this.#conn.inputReportSize });
    for (;;) {
      until.check('CTAPHID channel resync');
      let r;
      try {
        r = assembler.push(await this.#conn.read(Math.max(1, until.remaining()), signal), this.#clock());
      } catch (e) {
        if (e instanceof TimeoutError) throw new TimeoutError('the key did not answer the channel resync (INIT) in time', { cause: e });
        throw e;
      }
      if (r.kind === 'error') assembler.clear();
      if (r.kind === 'complete' && isInitReplyFor(r.message, nonce, this.cid)) break;
    }
    this.#interrupted = false;
  }

  /** Sends CANCEL, waits briefly for the answer (0x2D or an error frame), rejects with CancelledError. */
  async #cancel(signal: AbortSignal | undefined): Promise<never> {
    await this.#sendCancel();
    const until = Deadline.in(CANCEL_ANSWER_WAIT_MS, this.#clock);
    const assembler = new CtapHidAssembler({ expectedCid: this.cid, reportSize: this.#conn.inputReportSize });
    try {
      while (!until.expired()) {
        const m = this.#pushReport(assembler, await this.#conn.read(Math.max(1, until.remaining())));
        if (m && m.cmd !== CtapHidCmd.KEEPALIVE) break;
      }
    } catch {
      // no answer in time or the key went away: the request is cancelled either way
    }
    throw new CancelledError('request was cancelled', { cause: signal?.reason });
  }

  async #timeout(sawKeepalive: boolean, last: TransportKeepalive | null, sawBusy = false): Promise<never> {
    this.#interrupted = true;
    // The budget ran out on a retry after CHANNEL_BUSY: the cause is the other application.
    if (sawBusy && !sawKeepalive) throw new DeviceBusyError('the key stayed busy with another application until the deadline', { details: { hidError: CtapHidErrorCode.CHANNEL_BUSY } });
    // Tell the key to stop waiting for a touch, so the next request is not refused as busy.
    if (sawKeepalive) await this.#sendCancel();
    throw new TimeoutError(
      last === 'up-needed'
        ? 'no touch on the key before the deadline (touch the key when it blinks)'
        : sawKeepalive
          ? 'the key kept processing past the deadline'
          : 'the key did not answer before the deadline',
    );
  }
}
