import { TimeoutError, CancelledError } from '../protocol/transport-errors.ts';

/** A clock in milliseconds; injected so tests and the simulator control time. */
export type Clock = () => number;

/** The wall clock (`Date.now`). */
export const systemClock: Clock = () => Date.now();

/**
 * One time budget shared by every step of a request (libfido2 passes `int *ms` through all
 * tx/rx steps), never a fresh timeout per step.
 */
export class Deadline {
  /**
   * @param at absolute time (per `clock`) when the budget runs out; `Infinity` for none.
   * @param clock defaults to `Date.now`.
   */
  constructor(
    readonly at: number,
    readonly clock: Clock = systemClock,
  ) {}

  /** A deadline `ms` from now. */
  static in(ms: number, clock: Clock = systemClock): Deadline {
    return new Deadline(clock() + ms, clock);
  }

  /** No time limit (the caller's signal is then the only bound). */
  static none(clock: Clock = systemClock): Deadline {
    return new Deadline(Infinity, clock);
  }

  /** Milliseconds left, never negative. */
  remaining(): number {
    return Math.max(0, this.at - this.clock());
  }

  expired(): boolean {
    return this.clock() >= this.at;
  }

  /** Throws `TimeoutError` when the budget is spent; `what` names the step for the message. */
  check(what: string): void {
    if (this.expired()) throw new TimeoutError(`${what}: deadline exceeded`);
  }

  /** The earlier of this deadline and one `ms` from now (for per-step caps such as a keepalive watchdog). */
  capped(ms: number): Deadline {
    return new Deadline(Math.min(this.at, this.clock() + ms), this.clock);
  }
}

/** Throws `CancelledError` if `signal` has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) throw new CancelledError(`${what} was cancelled`, { cause: signal.reason });
}

/**
 * Sleeps `ms` (bounded by the deadline), rejecting with `CancelledError` on abort.
 * Uses real timers: the simulator and tests that need fake time use vitest's fake timers.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError('sleep cancelled', { cause: signal.reason }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new CancelledError('sleep cancelled', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
