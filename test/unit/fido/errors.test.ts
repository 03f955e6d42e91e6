import { describe, expect, it } from 'vitest';
import {
  ConfirmationRequiredError,
  DeviceMismatchError,
  DeviceNotFoundError,
  KeytapError,
  OperationDeniedError,
  PinAlreadySetError,
  PinBlockedError,
  PinChangeRequiredError,
  PinChangeUnconfirmedError,
  PinInvalidError,
  PinNotSetError,
  PinRequiredError,
  PinSoftBlockedError,
  ResetNotAllowedError,
  UnsupportedError,
  UvBlockedError,
  errorFromCtapStatus,
} from '../../../src/fido/errors.ts';

describe('FIDO client errors: stable name and code (DESIGN.md §5)', () => {
  it.each([
    [new PinInvalidError(7), 'PinInvalidError', 'PIN_INVALID'],
    [new PinSoftBlockedError(5), 'PinSoftBlockedError', 'PIN_SOFT_BLOCKED'],
    [new PinBlockedError(), 'PinBlockedError', 'PIN_BLOCKED'],
    [new PinNotSetError(), 'PinNotSetError', 'PIN_NOT_SET'],
    [new PinAlreadySetError(), 'PinAlreadySetError', 'PIN_ALREADY_SET'],
    [new ConfirmationRequiredError(), 'ConfirmationRequiredError', 'CONFIRMATION_REQUIRED'],
    [new PinRequiredError(), 'PinRequiredError', 'PIN_REQUIRED'],
    [new UvBlockedError(), 'UvBlockedError', 'UV_BLOCKED'],
    [new OperationDeniedError(), 'OperationDeniedError', 'OPERATION_DENIED'],
    [new ResetNotAllowedError(), 'ResetNotAllowedError', 'RESET_NOT_ALLOWED'],
    [new UnsupportedError('x'), 'UnsupportedError', 'UNSUPPORTED'],
    [new PinChangeRequiredError(), 'PinChangeRequiredError', 'PIN_CHANGE_REQUIRED'],
    [new PinChangeUnconfirmedError('x'), 'PinChangeUnconfirmedError', 'PIN_CHANGE_UNCONFIRMED'],
    [new DeviceMismatchError(), 'DeviceMismatchError', 'DEVICE_MISMATCH'],
    [new DeviceNotFoundError('x'), 'DeviceNotFoundError', 'DEVICE_NOT_FOUND'],
  ])('%s has name %s and code %s', (e, name, code) => {
    expect(e).toBeInstanceOf(KeytapError);
    expect(e.name).toBe(name);
    expect(e.code).toBe(code);
  });

  it('carries retriesLeft in details and says what to do next', () => {
    expect(new PinInvalidError(7).details.retriesLeft).toBe(7);
    expect(new PinSoftBlockedError(5).message).toContain('re-insert');
    expect(new PinBlockedError().message).toContain('reset');
    expect(new ConfirmationRequiredError().details.retriesLeft).toBe(1);
    expect(new ResetNotAllowedError({ windowSeconds: 10 }).message).toContain('within 10 seconds');
  });

  it.each([
    [0x31, 'PIN_INVALID'],
    [0x32, 'PIN_BLOCKED'],
    [0x34, 'PIN_SOFT_BLOCKED'],
    [0x35, 'PIN_NOT_SET'],
    [0x36, 'PIN_REQUIRED'],
    [0x37, 'PIN_POLICY_VIOLATION'],
    [0x3c, 'UV_BLOCKED'],
    [0x27, 'OPERATION_DENIED'],
    [0x2d, 'CANCELLED'],
    [0x3a, 'TIMEOUT'],
    [0x2e, 'CTAP_NO_CREDENTIALS'],
    [0xf3, 'CTAP_UNKNOWN'],
  ])('CTAP status 0x%s maps to %s with details.ctapStatus (CTAP 2.1 §8.2)', (status, code) => {
    const e = errorFromCtapStatus(status, 'op');
    expect(e.code).toBe(code);
    expect(e.details.ctapStatus).toBe(status);
  });
});
