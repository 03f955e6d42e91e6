import { describe, expect, it } from 'vitest';
import { attemptAllowed, derivePinStatus } from '../../../src/fido/pin-status.ts';

describe('PIN state model (DESIGN.md §3, fido.md §5)', () => {
  it('clientPin false or absent → no-pin with no retries, whatever else is known', () => {
    expect(derivePinStatus({ clientPin: false })).toMatchObject({ state: 'no-pin', retriesLeft: null, powerCycleRequired: false });
    expect(derivePinStatus({ clientPin: undefined })).toMatchObject({ state: 'no-pin' });
  });

  it.each([
    [{ retries: 8 }, {}, 'ok', false],
    [{ retries: 5, powerCycleState: true }, {}, 'soft-blocked', true],
    [{ retries: 5 }, { lastAttemptSoftBlocked: true }, 'soft-blocked', true],
    [{ retries: 0 }, {}, 'blocked', false],
    [{ retries: 0, powerCycleState: true }, {}, 'blocked', false],
  ] as const)('retries %j (%j) → %s', (retries, opts, state, pc) => {
    const s = derivePinStatus({ clientPin: true }, retries, opts);
    expect(s.state).toBe(state);
    expect(s.retriesLeft).toBe(retries.retries);
    expect(s.powerCycleRequired).toBe(pc);
    expect(attemptAllowed(s)).toBe(state === 'ok');
  });

  it('forcePINChange → change-required (an attempt is still allowed: the change itself)', () => {
    const s = derivePinStatus({ clientPin: true, forcePinChange: true }, { retries: 8 });
    expect(s.state).toBe('change-required');
    expect(attemptAllowed(s)).toBe(true);
  });

  it('length limits: max(4, minPINLength) code points, min(63, maxPINLength) bytes (fido.md §6)', () => {
    expect(derivePinStatus({ clientPin: true }, { retries: 8 })).toMatchObject({ minLength: 4, maxLength: 63, maxRetries: 8 });
    expect(derivePinStatus({ clientPin: true, minPinLength: 6, maxPinLength: 8 }, { retries: 8 })).toMatchObject({ minLength: 6, maxLength: 8 });
    expect(derivePinStatus({ clientPin: true, minPinLength: 2, maxPinLength: 255 }, { retries: 8 })).toMatchObject({ minLength: 4, maxLength: 63 });
  });

  it('reports UV retries where the key has UV', () => {
    expect(derivePinStatus({ clientPin: true }, { retries: 8 }, { uvRetries: 3 }).uvRetriesLeft).toBe(3);
    expect('uvRetriesLeft' in derivePinStatus({ clientPin: true }, { retries: 8 })).toBe(false);
  });
});
