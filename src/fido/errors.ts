/**
 * The FIDO client's typed errors. Every error `FidoClient` throws is a `KeytapError` whose
 * `code` is the agent API's stable code (DESIGN.md §5): UIs act on the code, show the message,
 * and read `details` (`retriesLeft`, `rule`, `ctapStatus`). Messages say what to do next and
 * never carry a PIN, token or key byte.
 *
 * Transport-level errors (`TIMEOUT`, `CANCELLED`, `DEVICE_REMOVED`, `DEVICE_BUSY`) are the shared
 * classes from `src/protocol/transport-errors.ts`, re-exported here for one import site.
 */
import { KeytapError } from '../protocol/errors.ts';
import { CtapError, CtapStatus, ctapStatusName } from '../protocol/ctap2/status.ts';
import { TimeoutError, CancelledError, DeviceRemovedError, DeviceBusyError } from '../protocol/transport-errors.ts';
import { CtapHidError } from '../protocol/ctaphid/errors.ts';

export { KeytapError, CtapError, CtapHidError, TimeoutError, CancelledError, DeviceRemovedError, DeviceBusyError };

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** "1 attempt left", "7 attempts left", "an unknown number of attempts left". */
function attemptsLeft(n: number | null): string {
  return n === null ? 'an unknown number of attempts left' : `${n} attempt${n === 1 ? '' : 's'} left`;
}

function withStatus(options: Opts | undefined, extra: Record<string, unknown>): Opts {
  return { ...options, details: { ...extra, ...options?.details } };
}

/** A wrong PIN (CTAP 0x31). `details.retriesLeft` is re-read from the device after the attempt. */
export class PinInvalidError extends KeytapError {
  constructor(retriesLeft: number | null, options?: Opts) {
    super('PIN_INVALID', `wrong PIN: ${attemptsLeft(retriesLeft)} before the key locks`, withStatus(options, { retriesLeft }));
  }
}

/**
 * Three wrong PINs in a row since power-up (CTAP 0x34, or powerCycleState true): every PIN,
 * the right one too, is refused until the key is removed and re-inserted (fido.md §5).
 */
export class PinSoftBlockedError extends KeytapError {
  constructor(retriesLeft: number | null, options?: Opts) {
    super(
      'PIN_SOFT_BLOCKED',
      `PIN entry is blocked after 3 wrong PINs in a row: remove and re-insert the key, then try again${retriesLeft === null ? '' : ` (${attemptsLeft(retriesLeft)})`}`,
      withStatus(options, { retriesLeft }),
    );
  }
}

/** No PIN attempts left (CTAP 0x32 or retries 0): only a reset, which erases all credentials, recovers it. */
export class PinBlockedError extends KeytapError {
  constructor(options?: Opts) {
    super(
      'PIN_BLOCKED',
      'the PIN is blocked (no attempts left): only a reset, which erases all credentials on the key, recovers it',
      withStatus(options, { retriesLeft: 0 }),
    );
  }
}

/** The operation needs a PIN but none is set (getInfo clientPin false, or CTAP 0x35). */
export class PinNotSetError extends KeytapError {
  constructor(options?: Opts) {
    super('PIN_NOT_SET', 'no PIN is set on this key: set one first (keytap pin set)', options);
  }
}

/** setPin on a key that already has a PIN (use changePin). */
export class PinAlreadySetError extends KeytapError {
  constructor(options?: Opts) {
    super('PIN_ALREADY_SET', 'this key already has a PIN: change it instead (keytap pin change)', options);
  }
}

/**
 * The key demands a new PIN (getInfo forcePINChange): it issues no token until the PIN is
 * changed, and some firmware counts the attempt as wrong (OpenSK answers 0x31; fido.md §14.2).
 * Refused before anything is sent.
 */
export class PinChangeRequiredError extends KeytapError {
  constructor(options?: Opts) {
    super('PIN_CHANGE_REQUIRED', 'the key requires a new PIN before it can be used: change it first (keytap pin change)', options);
  }
}

/**
 * Exactly one PIN attempt is left: a wrong PIN now blocks the key for good, so the request must
 * say `confirmLastAttempt: true` (DESIGN.md §3). Nothing was sent to the key.
 */
export class ConfirmationRequiredError extends KeytapError {
  constructor(options?: Opts) {
    super(
      'CONFIRMATION_REQUIRED',
      'only 1 PIN attempt is left: a wrong PIN blocks the key until it is reset (erasing all credentials); confirm to use the last attempt',
      withStatus(options, { retriesLeft: 1 }),
    );
  }
}

/** The device wants a PIN (or UV) for this operation and none was given (CTAP 0x36). */
export class PinRequiredError extends KeytapError {
  constructor(options?: Opts) {
    super('PIN_REQUIRED', 'this operation needs the PIN of the key', options);
  }
}

/** Built-in user verification (fingerprint) is blocked (CTAP 0x3C): fall back to the PIN. */
export class UvBlockedError extends KeytapError {
  constructor(options?: Opts) {
    super('UV_BLOCKED', 'fingerprint verification is blocked: use the PIN instead (verifying the PIN unblocks it)', options);
  }
}

/** The user or the device refused (CTAP 0x27). */
export class OperationDeniedError extends KeytapError {
  constructor(message = 'the key refused the operation (denied by the user or the device)', options?: Opts) {
    super('OPERATION_DENIED', message, options);
  }
}

/**
 * Reset outside the authenticator's window after power-up (CTAP 0x30, or 0x34 on some
 * YubiKeys; fido.md §10). `details.windowSeconds` is the shortest window known (5 s, Yubico).
 */
export class ResetNotAllowedError extends KeytapError {
  constructor(options?: Opts & { windowSeconds?: number }) {
    const n = options?.windowSeconds ?? 5;
    super(
      'RESET_NOT_ALLOWED',
      `reset must happen within ${n} seconds of plugging the key in: re-insert it and run reset at once`,
      withStatus(options, { windowSeconds: n }),
    );
  }
}

/** The device or transport lacks what the operation needs (no clientPin, no WINK capability, ...). */
export class UnsupportedError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('UNSUPPORTED', message, options);
  }
}

/**
 * A PIN change was accepted by the key but re-reading its state did not confirm it
 * (clientPin not true, retries not back at the maximum, or forcePINChange still set).
 */
export class PinChangeUnconfirmedError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('PIN_CHANGE_UNCONFIRMED', message, options);
  }
}

/** The guided reset saw a different key inserted than the one removed (ykman's fingerprint check). */
export class DeviceMismatchError extends KeytapError {
  constructor(options?: Opts) {
    super('DEVICE_MISMATCH', 'the inserted key does not match the one removed: insert the same key', options);
  }
}

/** No device matches the selector (path, serial number, `udp://` address). */
export class DeviceNotFoundError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('DEVICE_NOT_FOUND', message, options);
  }
}

/**
 * Maps a non-zero CTAP2 status to the API's typed error. PIN statuses that need context
 * (retries left) are mapped by the client itself; this is the context-free fallback, and always
 * keeps `details.ctapStatus`.
 */
export function errorFromCtapStatus(status: number, context?: string, retriesLeft: number | null = null): KeytapError {
  const cause = new CtapError(status, context);
  const o = { cause, details: { ctapStatus: status, ctapStatusName: ctapStatusName(status) } };
  switch (status) {
    case CtapStatus.PIN_INVALID:
      return new PinInvalidError(retriesLeft, o);
    case CtapStatus.PIN_AUTH_BLOCKED:
      return new PinSoftBlockedError(retriesLeft, o);
    case CtapStatus.PIN_BLOCKED:
      return new PinBlockedError(o);
    case CtapStatus.PIN_NOT_SET:
      return new PinNotSetError(o);
    case CtapStatus.PUAT_REQUIRED:
      return new PinRequiredError(o);
    case CtapStatus.UV_BLOCKED:
      return new UvBlockedError(o);
    case CtapStatus.OPERATION_DENIED:
      return new OperationDeniedError(undefined, o);
    case CtapStatus.KEEPALIVE_CANCEL:
      return new CancelledError(`${context ?? 'request'} was cancelled`, o);
    case CtapStatus.ACTION_TIMEOUT:
    case CtapStatus.USER_ACTION_TIMEOUT:
      return new TimeoutError(`${context ?? 'request'}: no touch on the key in time (touch the key when it blinks)`, o);
    case CtapStatus.PIN_POLICY_VIOLATION:
      return new KeytapError('PIN_POLICY_VIOLATION', 'the key refused the new PIN: it does not meet the key\'s PIN rules (length or complexity)', {
        cause,
        details: { ...o.details, rule: 'device' },
      });
    default:
      return cause;
  }
}
