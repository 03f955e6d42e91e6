/**
 * The device side of a trace replay: feed it the host's output reports with `receive()`, it
 * answers through `send` with the trace's `<=`/`<~` reports, as the recorded device did. Used
 * by `keytap simulate --trace` to serve a recording over UDP to any CTAPHID client.
 *
 * Matching is the replayer's (masked and wildcard bytes match anything, the INIT nonce is
 * spliced). On a mismatch the device answers CTAPHID_ERROR OTHER on the host's channel, so the
 * client fails at once instead of waiting, and reports the `TraceMismatchError` to `onError`.
 */
import { TraceReplayer } from './trace-replayer.ts';
import { encodeFrames } from '../../protocol/ctaphid/framing.ts';
import { CtapHidCmd, CtapHidErrorCode } from '../../protocol/ctaphid/constants.ts';
import { readU32BE } from '../../util/bytes.ts';

/** Options of `TraceDevice`. */
export interface TraceDeviceOptions {
  /** Receives every input report the device sends. */
  send: (report: Uint8Array) => void;
  /** Mismatches and recorded errors (the device keeps serving what it can). */
  onError?: (error: Error) => void;
  /** Called once when the whole trace has been served. */
  onConsumed?: () => void;
}

/** A recorded HID device driven by host reports. */
export class TraceDevice {
  #chain: Promise<void> = Promise.resolve();
  #done = false;

  constructor(
    readonly replayer: TraceReplayer,
    private readonly o: TraceDeviceOptions,
  ) {}

  /** One output report from the host (64 bytes, no report ID). Reports are handled in order. */
  receive(report: Uint8Array): void {
    const copy = new Uint8Array(report);
    this.#chain = this.#chain.then(() => this.#handle(copy)).catch((e) => this.o.onError?.(e as Error));
  }

  /** Resolves when every report received so far has been handled. */
  idle(): Promise<void> {
    return this.#chain;
  }

  async #handle(report: Uint8Array): Promise<void> {
    try {
      await this.replayer.hostWrite(report);
    } catch (e) {
      this.o.onError?.(e as Error);
      for (const f of encodeFrames(readU32BE(report, 0), CtapHidCmd.ERROR, new Uint8Array([CtapHidErrorCode.OTHER]), report.length)) this.o.send(f);
      return;
    }
    if (this.replayer.awaitingHostContinuation) return;
    for (;;) {
      await this.replayer.advance();
      const r = this.replayer.takeDeviceReport();
      if (r === null) break;
      // A recorded timeout is a silent device; a disconnect or error is reported and skipped.
      if (r instanceof Error) {
        if ((r as { code?: string }).code !== 'TIMEOUT') this.o.onError?.(r);
        continue;
      }
      this.o.send(r);
    }
    if (!this.#done && this.replayer.remaining === 0) {
      this.#done = true;
      this.o.onConsumed?.();
    }
  }
}
