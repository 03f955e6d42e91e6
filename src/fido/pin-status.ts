/**
 * The one PIN state model (DESIGN.md §3, fido.md §5): what a client, the CLI and the agent show.
 * Derived only from what the device said (getInfo, getPINRetries, getUVRetries), never assumed.
 */

import type { PinState, PinStatusResult } from '../api/types.ts';

export type { PinState };

/** A key's PIN state as exposed by the API (`fido.pin.status`): the wire type itself. */
export type PinStatus = PinStatusResult;

/** The getInfo facts the PIN state depends on (fido.md §8). */
export interface PinInfoFacts {
  /** getInfo options.clientPin: undefined = PIN unsupported, false = not set, true = set. */
  clientPin: boolean | undefined;
  /** getInfo 0x0C forcePINChange. */
  forcePinChange?: boolean;
  /** getInfo 0x0D minPINLength (default 4). */
  minPinLength?: number;
  /** getInfo 0x1D maxPINLength (default 63). */
  maxPinLength?: number;
}

/** What getPINRetries returned (fido.md §4: key 0x03 pinRetries, 0x04 powerCycleState). */
export interface PinRetriesReading {
  retries: number;
  powerCycleState?: boolean;
}

/** CTAP 2.0: the maximum must be 8; CTAP 2.1: 8 at most (fido.md §5). */
export const DEFAULT_MAX_RETRIES = 8;
/** CTAP 2.1 §6.5.5: at least 4 code points. */
export const MIN_PIN_CODE_POINTS = 4;
/** CTAP 2.1: at most 63 bytes of UTF-8. */
export const MAX_PIN_BYTES = 63;

/** Does the state allow a PIN attempt to be sent at all? */
export function attemptAllowed(status: PinStatus): boolean {
  return status.state === 'ok' || status.state === 'change-required';
}

/**
 * Derives the state. `retries` must be given exactly when `facts.clientPin === true` (never poll
 * retries otherwise: YubiKeys answer 0x35, pico-fido hangs). `lastAttemptSoftBlocked` is true
 * when the previous attempt got 0x34, for keys that omit powerCycleState (Yubico.NET.SDK#537).
 */
export function derivePinStatus(
  facts: PinInfoFacts,
  retries?: PinRetriesReading,
  options: { uvRetries?: number; maxRetries?: number; lastAttemptSoftBlocked?: boolean } = {},
): PinStatus {
  const minLength = Math.max(MIN_PIN_CODE_POINTS, facts.minPinLength ?? MIN_PIN_CODE_POINTS);
  const maxLength = Math.min(MAX_PIN_BYTES, facts.maxPinLength ?? MAX_PIN_BYTES);
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const base = { maxRetries, minLength, maxLength, ...(options.uvRetries !== undefined ? { uvRetriesLeft: options.uvRetries } : {}) };
  if (facts.clientPin !== true || retries === undefined) {
    return { state: 'no-pin', retriesLeft: null, powerCycleRequired: false, ...base };
  }
  const powerCycleRequired = retries.powerCycleState === true || options.lastAttemptSoftBlocked === true;
  let state: PinState;
  if (retries.retries === 0) state = 'blocked';
  else if (powerCycleRequired) state = 'soft-blocked';
  else if (facts.forcePinChange === true) state = 'change-required';
  else state = 'ok';
  return { state, retriesLeft: retries.retries, powerCycleRequired: state === 'blocked' ? false : powerCycleRequired, ...base };
}
