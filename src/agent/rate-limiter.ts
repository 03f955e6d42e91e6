/**
 * A sliding-window counter per key (PIN attempts per connection and per token, DESIGN.md §6).
 * Keys for tokens outlive connections, so reconnecting does not reset the count.
 */
import { systemClock, type Clock } from '../util/deadline.ts';

export class RateLimiter {
  readonly #hits = new Map<string, number[]>();

  /**
   * @param max attempts allowed in any `windowMs` span.
   * @param windowMs window length (default 60 s).
   */
  constructor(
    readonly max: number,
    readonly windowMs = 60_000,
    readonly clock: Clock = systemClock,
  ) {}

  /** Ms until `key` may try again; 0 when an attempt is allowed now. Does not record. */
  retryAfter(key: string): number {
    const now = this.clock();
    const hits = this.#prune(key, now);
    if (hits.length < this.max) return 0;
    return Math.max(1, hits[0] + this.windowMs - now);
  }

  /** Records one attempt for `key`. */
  record(key: string): void {
    const now = this.clock();
    const hits = this.#prune(key, now);
    hits.push(now);
    this.#hits.set(key, hits);
  }

  /** Drops `key` (a closed connection's bucket; token buckets are kept so reconnecting does not reset them). */
  forget(key: string): void {
    this.#hits.delete(key);
  }

  #prune(key: string, now: number): number[] {
    const hits = (this.#hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (hits.length === 0) this.#hits.delete(key);
    else this.#hits.set(key, hits);
    return hits;
  }
}
