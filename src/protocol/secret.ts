import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Bytes that must never be printed: PINs, PIN/UV auth tokens, shared secrets.
 * `toString`, `toJSON` and `util.inspect` give `[redacted]`; the value comes out only
 * through `exposeSecret()` (easy to grep), and `wipe()` zeroes it after use.
 */
export class SecretBytes {
  #bytes: Uint8Array;
  #wiped = false;

  /** Takes ownership of `bytes` (the caller must not keep using the array). */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Copies `bytes` into a new secret, leaving the source untouched. */
  static copyOf(bytes: Uint8Array): SecretBytes {
    return new SecretBytes(new Uint8Array(bytes));
  }

  get length(): number {
    return this.#bytes.length;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  /** The raw bytes. Throws after `wipe()` so a use-after-wipe is loud, not silent zeros. */
  exposeSecret(): Uint8Array {
    if (this.#wiped) throw new Error('secret used after wipe');
    return this.#bytes;
  }

  /** Zeroes the buffer. Idempotent. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * A PIN as the user typed it, NFC-normalised, held as UTF-8 bytes in a `SecretBytes`.
 * Validation (length, code points, NUL, policy) lives in `pin/pin-rules.ts`.
 */
export class Pin extends SecretBytes {
  /** NFC-normalises `text` and encodes it as UTF-8. Does not validate. */
  static fromString(text: string): Pin {
    return new Pin(new TextEncoder().encode(text.normalize('NFC')));
  }

  /** Number of Unicode code points (CTAP 2.1 §6.5.5: minimum is counted in code points). */
  codePoints(): number {
    return [...new TextDecoder('utf-8', { fatal: false }).decode(this.exposeSecret())].length;
  }
}
