/**
 * A scriptable in-memory `HidConnection` for transport tests: the test decides, per write,
 * which reports the "device" queues, and reads honour their timeout with (fake) timers.
 */
import type { HidConnection } from '../../../../src/drivers/hid-connection.ts';
import { CancelledError, DeviceRemovedError, TimeoutError } from '../../../../src/protocol/transport-errors.ts';
import { encodeFrames, parseFrame } from '../../../../src/protocol/ctaphid/framing.ts';
import { encodeInitResponse } from '../../../../src/protocol/ctaphid/init.ts';
import { BROADCAST_CID, CtapHidCmd } from '../../../../src/protocol/ctaphid/constants.ts';

type Timed = { report: Uint8Array; delayMs: number };

export class ScriptedConnection implements HidConnection {
  readonly inputReportSize = 64;
  readonly outputReportSize = 64;
  readonly writes: Uint8Array[] = [];
  closed = false;
  /** Called on each write; may call `queue`. */
  onWrite: (report: Uint8Array, conn: ScriptedConnection) => void = () => {};
  /** Called when a read finds the queue empty; may return a report to deliver after a delay (a keepalive stream). */
  onIdle: (() => Timed | null) | null = null;
  #queue: Timed[] = [];

  #wake: (() => void) | null = null;

  queue(...reports: Uint8Array[]): void {
    for (const r of reports) this.#queue.push({ report: r, delayMs: 0 });
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  queueMessage(cid: number, cmd: number, payload: Uint8Array): void {
    this.queue(...encodeFrames(cid, cmd, payload));
  }

  async write(report: Uint8Array): Promise<void> {
    if (this.closed) throw new DeviceRemovedError('closed');
    if (report.length !== 64) throw new Error(`bad write length ${report.length}`);
    this.writes.push(new Uint8Array(report));
    this.onWrite(report, this);
  }

  read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(new CancelledError('aborted'));
    const next = this.#queue.shift() ?? this.onIdle?.() ?? null;
    // Queued reports are delivered at once, so fake timers are needed only for delays.
    if (next && next.delayMs === 0) return Promise.resolve(next.report);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        if (next) this.#queue.unshift(next);
        reject(new CancelledError('aborted'));
      };
      const t =
        next && next.delayMs <= timeoutMs
          ? setTimeout(() => (cleanup(), resolve(next.report)), next.delayMs)
          : setTimeout(() => {
              cleanup();
              this.#wake = null;
              if (next) this.#queue.unshift({ report: next.report, delayMs: next.delayMs - timeoutMs });
              reject(new TimeoutError(`read timeout ${timeoutMs}`));
            }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!next) {
        // Silence: a report queued later (by a timer) wakes this read.
        this.#wake = () => {
          cleanup();
          this.read(timeoutMs, signal).then(resolve, reject);
        };
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Commands written after INIT, decoded (init packets only). */
  writtenCommands(): { cid: number; cmd: number }[] {
    return this.writes.map(parseFrame).flatMap((f) => (f.type === 'init' ? [{ cid: f.cid, cmd: f.cmd }] : []));
  }
}

export const TEST_CID = 0x00220002;

/** Answers INIT with the nonce the host sent, allocating `cid`. */
export function answerInit(conn: ScriptedConnection, report: Uint8Array, cid = TEST_CID, caps = 0x05): boolean {
  const f = parseFrame(report);
  if (f.type !== 'init' || f.cmd !== CtapHidCmd.INIT || f.cid !== BROADCAST_CID) return false;
  const nonce = f.data.slice(0, 8);
  conn.queueMessage(BROADCAST_CID, CtapHidCmd.INIT, encodeInitResponse({ nonce, cid, versionMajor: 5, versionMinor: 2, versionBuild: 1, capabilities: caps }));
  return true;
}

/** Fixed randomness for nonces. */
export const fixedRandom = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i + 1);
