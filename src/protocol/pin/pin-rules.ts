/**
 * PIN rules checked before anything is sent to an authenticator (DESIGN.md §3; CTAP 2.1
 * §6.5.5.5 and CTAP 2.2 §6.4 maxPINLength):
 *  - at least max(4 code points, device minPINLength, policy.minLength) code points;
 *  - at most 63 bytes of UTF-8 and at most the device's maxPINLength code points;
 *  - valid UTF-8, NFC-normalised, no NUL;
 *  - a local policy on top (repeated / sequential characters, reuse).
 * Errors say which rule and what to do, never the PIN.
 */
import { KeytapError } from '../errors.ts';
import type { Pin } from '../secret.ts';
import { timingSafeEqualBytes } from '../../util/bytes.ts';

/** CTAP 2.1 §6.5.5.5: at least 4 Unicode code points. */
export const PIN_MIN_CODE_POINTS = 4;
/** CTAP 2.1 §6.5.5.5: at most 63 bytes of UTF-8 (the padded block keeps a NUL). */
export const PIN_MAX_UTF8_BYTES = 63;
/** CTAP 2.2 getInfo maxPINLength (0x1D) default, in code points. */
export const DEFAULT_MAX_PIN_LENGTH = 63;

/** A deployment's PIN policy, like an MFA server's. All members optional; reuse allowed by default. */
export interface LocalPinPolicy {
  /** Minimum length in code points (applies on top of the device minimum). */
  minLength?: number;
  /** Most identical consecutive characters allowed, e.g. 2 refuses "1112". */
  maxRepeated?: number;
  /** Longest run of ascending or descending consecutive code points allowed, e.g. 3 refuses "1234" and "dcba". */
  maxSequential?: number;
  /** Refuse a new PIN equal to the current one. Default false (MFA deployments permit reuse). */
  forbidReuse?: boolean;
}

export type PinRule = 'min-length' | 'max-length' | 'utf8' | 'nfc' | 'nul' | 'max-repeated' | 'max-sequential' | 'same-as-current';

/** A PIN broke a rule. Code `PIN_POLICY_VIOLATION`; `details.rule`, and `details.limit` where there is one. */
export class PinPolicyError extends KeytapError {
  readonly rule: PinRule;
  constructor(rule: PinRule, message: string, details: Record<string, unknown> = {}) {
    super('PIN_POLICY_VIOLATION', message, { details: { rule, ...details } });
    this.rule = rule;
  }
}

export interface ValidatePinOptions {
  /** The device's minPINLength (getInfo 0x0D). Default 4. */
  minLength?: number;
  /** The device's maxPINLength (getInfo 0x1D), in code points. Default 63. */
  maxLength?: number;
  policy?: LocalPinPolicy;
  /** The current PIN, for the reuse check (changePIN). */
  currentPin?: Pin;
  /** getInfo forcePINChange (0x0C): the new PIN must differ from the current one. */
  forcePinChange?: boolean;
}

/** The effective length limits for a device and policy (for prompts). */
export function pinLengthLimits(opts: Pick<ValidatePinOptions, 'minLength' | 'maxLength' | 'policy'> = {}): { minCodePoints: number; maxCodePoints: number; maxBytes: number } {
  return {
    minCodePoints: Math.max(PIN_MIN_CODE_POINTS, opts.minLength ?? PIN_MIN_CODE_POINTS, opts.policy?.minLength ?? 0),
    maxCodePoints: Math.min(opts.maxLength ?? DEFAULT_MAX_PIN_LENGTH, DEFAULT_MAX_PIN_LENGTH),
    maxBytes: PIN_MAX_UTF8_BYTES,
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function longestRun(cps: number[], step: (a: number, b: number) => boolean): number {
  let best = cps.length > 0 ? 1 : 0;
  let run = 1;
  for (let i = 1; i < cps.length; i++) {
    run = step(cps[i - 1]!, cps[i]!) ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/**
 * Checks `pin` against the CTAP rules, the device's limits and the local policy. Throws
 * `PinPolicyError` for the first broken rule; returns the PIN's length in code points and bytes.
 */
export function validatePin(pin: Pin, opts: ValidatePinOptions = {}): { codePoints: number; bytes: number } {
  const bytes = pin.exposeSecret();
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new PinPolicyError('utf8', 'The PIN is not valid UTF-8 text; type it again.');
  }
  if (text.normalize('NFC') !== text) {
    throw new PinPolicyError('nfc', 'The PIN is not in Unicode normal form C; enter it as text (Pin.fromString normalises it).');
  }
  const cps = [...text].map((c) => c.codePointAt(0)!);
  if (cps.includes(0)) throw new PinPolicyError('nul', 'The PIN contains a NUL character, which authenticators cannot store; remove it.');

  const { minCodePoints, maxCodePoints, maxBytes } = pinLengthLimits(opts);
  if (cps.length < minCodePoints) {
    throw new PinPolicyError('min-length', `The PIN must be at least ${minCodePoints} characters long; choose a longer PIN.`, { limit: minCodePoints, unit: 'code-points' });
  }
  if (bytes.length > maxBytes) {
    throw new PinPolicyError('max-length', `The PIN must be at most ${maxBytes} bytes of UTF-8 (non-ASCII characters count 2–4 bytes); choose a shorter PIN.`, { limit: maxBytes, unit: 'bytes' });
  }
  if (cps.length > maxCodePoints) {
    throw new PinPolicyError('max-length', `This authenticator accepts at most ${maxCodePoints} characters; choose a shorter PIN.`, { limit: maxCodePoints, unit: 'code-points' });
  }

  const policy = opts.policy ?? {};
  if (policy.maxRepeated !== undefined && longestRun(cps, (a, b) => a === b) > policy.maxRepeated) {
    throw new PinPolicyError('max-repeated', `The PIN may repeat a character at most ${policy.maxRepeated} times in a row; vary the characters.`, { limit: policy.maxRepeated });
  }
  if (policy.maxSequential !== undefined) {
    const run = Math.max(longestRun(cps, (a, b) => b === a + 1), longestRun(cps, (a, b) => b === a - 1));
    if (run > policy.maxSequential) {
      throw new PinPolicyError('max-sequential', `The PIN may contain at most ${policy.maxSequential} consecutive characters in sequence (like 1234 or dcba); break up the sequence.`, { limit: policy.maxSequential });
    }
  }
  if (opts.currentPin && (policy.forbidReuse || opts.forcePinChange)) {
    if (timingSafeEqualBytes(bytes, opts.currentPin.exposeSecret())) {
      throw new PinPolicyError(
        'same-as-current',
        opts.forcePinChange ? 'The authenticator requires a new PIN; choose one different from the current PIN.' : 'Policy forbids reusing the current PIN; choose a different one.',
      );
    }
  }
  return { codePoints: cps.length, bytes: bytes.length };
}
