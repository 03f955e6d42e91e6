/**
 * CTAPHID message assembler (CTAP 2.1 §11.2.4, §11.2.5): a small state machine fed one
 * packet at a time with the current time, used by both sides.
 *
 * - Host (`expectedCid` set): frames on other channels are reported as
 *   `ignored-foreign-channel` (other processes share the key; libfido2 and Chromium skip
 *   them), and assembly goes on.
 * - Device (no `expectedCid`): one in-progress message per channel; with `exclusive`
 *   (default) an init packet on a second channel while one is being assembled gets
 *   CHANNEL_BUSY. Violations come back as `error` results whose
 *   `error.hidError` is the CTAPHID_ERROR code to answer with.
 *
 * No clock reads: every call takes `now` (ms); `expire(now)` aborts messages older than
 * the transaction timeout (MSG_TIMEOUT).
 */
import {
  BROADCAST_CID,
  CTAPHID_REPORT_SIZE,
  CTAPHID_TRANSACTION_TIMEOUT_MS,
  CtapHidCmd,
  CtapHidErrorCode,
  RESERVED_CID,
  ctapHidMaxMessage,
} from './constants.ts';
import { CtapHidFramingError } from './errors.ts';
import { parseFrame, type CtapHidFrame } from './framing.ts';

/** A complete CTAPHID message. */
export interface CtapHidMessage {
  cid: number;
  cmd: number;
  payload: Uint8Array;
}

/** A message aborted by the transaction timeout. */
export interface ExpiredMessage {
  cid: number;
  error: CtapHidFramingError;
}

export type AssembleResult = (
  | { kind: 'complete'; message: CtapHidMessage }
  | { kind: 'pending'; cid: number; received: number; expected: number }
  | { kind: 'ignored-foreign-channel'; cid: number }
  | { kind: 'error'; cid: number; error: CtapHidFramingError }
) & {
  /** Messages on any channel that the transaction timeout aborted before this packet. */
  expired: ExpiredMessage[];
};

/** Options of `CtapHidAssembler`. */
export interface CtapHidAssemblerOptions {
  /** Host side: the one channel expected; other channels are ignored. Default: device side (all channels). */
  expectedCid?: number;
  /** Report size, for the maximum message length. Default 64 (max 7609). */
  reportSize?: number;
  /** Transaction timeout in ms, counted from the init packet. Default `CTAPHID_TRANSACTION_TIMEOUT_MS` (3000). */
  timeoutMs?: number;
  /** Device side: allow only one channel mid-assembly; others get CHANNEL_BUSY. Default true. */
  exclusive?: boolean;
}

interface PartialMessage {
  cmd: number;
  buf: Uint8Array;
  received: number;
  nextSeq: number;
  startedAt: number;
}

export class CtapHidAssembler {
  readonly expectedCid: number | undefined;
  readonly maxMessage: number;
  readonly timeoutMs: number;
  readonly exclusive: boolean;
  readonly #inProgress = new Map<number, PartialMessage>();

  constructor(options: CtapHidAssemblerOptions = {}) {
    this.expectedCid = options.expectedCid;
    this.maxMessage = ctapHidMaxMessage(options.reportSize ?? CTAPHID_REPORT_SIZE);
    this.timeoutMs = options.timeoutMs ?? CTAPHID_TRANSACTION_TIMEOUT_MS;
    this.exclusive = options.exclusive ?? true;
  }

  /** Channels with a partly received message. */
  get pendingChannels(): number[] {
    return [...this.#inProgress.keys()];
  }

  /** Drops any partial message on `cid` (e.g. after CANCEL or a new INIT). */
  abort(cid: number): void {
    this.#inProgress.delete(cid);
  }

  /** Drops all partial messages. */
  clear(): void {
    this.#inProgress.clear();
  }

  /**
   * Aborts every message whose init packet arrived more than `timeoutMs` before `now`
   * (CTAP 2.1 §11.2.5), returning them with CTAPHID_TIMEOUT errors (hidError MSG_TIMEOUT).
   */
  expire(now: number): ExpiredMessage[] {
    const out: ExpiredMessage[] = [];
    for (const [cid, p] of this.#inProgress) {
      if (now - p.startedAt > this.timeoutMs) {
        this.#inProgress.delete(cid);
        out.push({
          cid,
          error: new CtapHidFramingError('CTAPHID_TIMEOUT', `message on channel ${hexCid(cid)} not completed within ${this.timeoutMs} ms (${p.received} of ${p.buf.length} bytes)`, {
            hidError: CtapHidErrorCode.MSG_TIMEOUT,
            cid,
            received: p.received,
            expected: p.buf.length,
          }),
        });
      }
    }
    return out;
  }

  /** Parses `report` (no report-ID byte) and feeds it; see `pushFrame`. */
  push(report: Uint8Array, now: number): AssembleResult {
    let frame: CtapHidFrame;
    try {
      frame = parseFrame(report);
    } catch (e) {
      if (e instanceof CtapHidFramingError) return { kind: 'error', cid: RESERVED_CID, error: e, expired: this.expire(now) };
      throw e;
    }
    return this.pushFrame(frame, now);
  }

  /** Feeds one decoded packet at time `now` (ms, any monotonic origin). */
  pushFrame(frame: CtapHidFrame, now: number): AssembleResult {
    const expired = this.expire(now);
    const { cid } = frame;
    const fail = (code: ConstructorParameters<typeof CtapHidFramingError>[0], message: string, hidError: number, extra: Record<string, unknown> = {}): AssembleResult => ({
      kind: 'error',
      cid,
      error: new CtapHidFramingError(code, message, { hidError, cid, ...extra }),
      expired,
    });

    if (this.expectedCid !== undefined && cid !== this.expectedCid) {
      return { kind: 'ignored-foreign-channel', cid, expired };
    }
    const timedOutHere = expired.find((x) => x.cid === cid);

    if (frame.type === 'cont') {
      const p = this.#inProgress.get(cid);
      if (!p) {
        // A continuation whose message was aborted by the timeout is reported as such.
        if (timedOutHere) return { kind: 'error', cid, error: timedOutHere.error, expired };
        return fail('CTAPHID_SPURIOUS_CONTINUATION', `continuation packet (seq ${frame.seq}) on channel ${hexCid(cid)} without an init packet`, CtapHidErrorCode.INVALID_SEQ, { seq: frame.seq });
      }
      if (frame.seq !== p.nextSeq) {
        // CTAP 2.1 §11.2.4: sequence numbers start at 0 and increase by one; anything else aborts.
        this.#inProgress.delete(cid);
        return fail('CTAPHID_INVALID_SEQ', `continuation packet on channel ${hexCid(cid)} has sequence ${frame.seq}, expected ${p.nextSeq}`, CtapHidErrorCode.INVALID_SEQ, {
          seq: frame.seq,
          expectedSeq: p.nextSeq,
        });
      }
      return this.#append(cid, p, frame.data, expired);
    }

    // Init packet.
    if (this.expectedCid === undefined) {
      // CTAP 2.1 §11.2.3: CID 0 is reserved; the broadcast CID only carries INIT.
      if (cid === RESERVED_CID || (cid === BROADCAST_CID && frame.cmd !== CtapHidCmd.INIT)) {
        return fail('CTAPHID_INVALID_CHANNEL', `command 0x${frame.cmd.toString(16)} on channel ${hexCid(cid)} is not allowed`, CtapHidErrorCode.INVALID_CHANNEL, { cmd: frame.cmd });
      }
    }
    const current = this.#inProgress.get(cid);
    if (current) {
      this.#inProgress.delete(cid);
      // CTAP 2.1 §11.2.9.1.3: INIT on a channel resynchronises it, aborting what was in progress.
      if (frame.cmd !== CtapHidCmd.INIT) {
        return fail('CTAPHID_INVALID_SEQ', `init packet on channel ${hexCid(cid)} while a message was still being received (${current.received} of ${current.buf.length} bytes)`, CtapHidErrorCode.INVALID_SEQ, {
          cmd: frame.cmd,
        });
      }
    }
    if (this.expectedCid === undefined && this.exclusive && this.#inProgress.size > 0 && frame.cmd !== CtapHidCmd.INIT) {
      return fail('CTAPHID_CHANNEL_BUSY', `channel ${hexCid(cid)} must wait: another channel is mid-message`, CtapHidErrorCode.CHANNEL_BUSY, { cmd: frame.cmd });
    }
    if (frame.bcnt > this.maxMessage) {
      return fail('CTAPHID_MESSAGE_TOO_LARGE', `init packet announces ${frame.bcnt} bytes, above the maximum of ${this.maxMessage} (CTAP 2.1 §11.2.4)`, CtapHidErrorCode.INVALID_LEN, {
        length: frame.bcnt,
        max: this.maxMessage,
      });
    }
    const p: PartialMessage = { cmd: frame.cmd, buf: new Uint8Array(frame.bcnt), received: 0, nextSeq: 0, startedAt: now };
    return this.#append(cid, p, frame.data, expired, true);
  }

  #append(cid: number, p: PartialMessage, data: Uint8Array, expired: ExpiredMessage[], isInit = false): AssembleResult {
    const n = Math.min(data.length, p.buf.length - p.received);
    p.buf.set(data.subarray(0, n), p.received);
    p.received += n;
    if (!isInit) p.nextSeq++;
    if (p.received === p.buf.length) {
      this.#inProgress.delete(cid);
      return { kind: 'complete', message: { cid, cmd: p.cmd, payload: p.buf }, expired };
    }
    if (!isInit && p.nextSeq > 0x7f + 1) {
      // Unreachable with bcnt ≤ max, kept as a guard against a wrong reportSize.
      this.#inProgress.delete(cid);
      return { kind: 'error', cid, error: new CtapHidFramingError('CTAPHID_INVALID_SEQ', 'sequence number overflow', { hidError: CtapHidErrorCode.INVALID_SEQ, cid }), expired };
    }
    this.#inProgress.set(cid, p);
    return { kind: 'pending', cid, received: p.received, expected: p.buf.length, expired };
  }
}

function hexCid(cid: number): string {
  return (cid >>> 0).toString(16).padStart(8, '0');
}
