/**
 * The per-device FIFO queue (DESIGN.md §5): requests for one device run one at a time, in
 * arrival order, so two clients never interleave on one key. A request's deadline counts while
 * it waits; if it runs out in the queue it fails with DEVICE_BUSY (someone else held the key),
 * if it is aborted in the queue it fails with CANCELLED and never touches the device.
 */
import { DeviceBusyError, CancelledError, DeviceRemovedError } from '../protocol/transport-errors.ts';
import type { Deadline } from '../util/deadline.ts';

interface Waiter {
  start: () => void;
  fail: (e: unknown) => void;
}

export interface QueueRunOptions {
  signal?: AbortSignal;
  deadline: Deadline;
}

export class DeviceQueue {
  readonly #waiting: Waiter[] = [];
  #busy = false;
  /** Aborted when the device goes away, failing the running request with DEVICE_REMOVED. */
  #current: AbortController | null = null;
  #closed = false;

  constructor(readonly deviceId: string) {}

  /** Requests waiting (not counting the running one). */
  get waiting(): number {
    return this.#waiting.length;
  }

  get busy(): boolean {
    return this.#busy;
  }

  /**
   * Runs `fn` when the device is free. `fn` gets a signal that aborts when the caller's signal
   * aborts or the device is removed.
   */
  async run<T>(options: QueueRunOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.#closed) throw new DeviceRemovedError('the device was removed');
    if (options.signal?.aborted) throw new CancelledError('request cancelled before it reached the device', { cause: options.signal.reason });
    if (this.#busy) await this.#wait(options);
    this.#busy = true;
    const ac = new AbortController();
    this.#current = ac;
    const onAbort = (): void => ac.abort(options.signal?.reason ?? new CancelledError('request cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await fn(ac.signal);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#current = null;
      this.#next();
    }
  }

  #wait(options: QueueRunOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const enqueuedAt = options.deadline.clock();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
      };
      const waiter: Waiter = {
        start: () => {
          cleanup();
          resolve();
        },
        fail: (e) => {
          cleanup();
          reject(e);
        },
      };
      const onAbort = (): void => waiter.fail(new CancelledError('request cancelled while waiting for the device', { cause: options.signal?.reason }));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const remaining = options.deadline.remaining();
      if (remaining !== Infinity) {
        timer = setTimeout(() => {
          const waited = options.deadline.clock() - enqueuedAt;
          waiter.fail(new DeviceBusyError(`the device stayed busy with another request for ${waited} ms, until this request's deadline`, { details: { waitedMs: waited } }));
        }, remaining);
      }
      this.#waiting.push(waiter);
    });
  }

  #next(): void {
    const w = this.#waiting[0];
    if (w) {
      // Stay busy: hand the device straight to the next waiter (no gap another caller could take).
      w.start();
    } else {
      this.#busy = false;
    }
  }

  /** The device went away: fail waiters and abort the running request with DEVICE_REMOVED. */
  close(): void {
    this.#closed = true;
    const err = new DeviceRemovedError('the device was removed');
    for (const w of [...this.#waiting]) w.fail(err);
    this.#current?.abort(err);
  }
}
