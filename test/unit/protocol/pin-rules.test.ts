import { describe, expect, it } from 'vitest';
import { PinPolicyError, pinLengthLimits, validatePin, type ValidatePinOptions } from '../../../src/protocol/pin/pin-rules.ts';
import { KeytapError } from '../../../src/protocol/errors.ts';
import { Pin } from '../../../src/protocol/secret.ts';

const EMOJI = '\u{1F511}'; // 🔑: 1 code point, 4 bytes

function ruleOf(pin: Pin, opts?: ValidatePinOptions): string | undefined {
  try {
    validatePin(pin, opts);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(PinPolicyError);
    return (e as PinPolicyError).details.rule as string;
  }
}

describe('validatePin: CTAP length and encoding rules (CTAP 2.1 §6.5.5.5; DESIGN.md §3)', () => {
  it.each<[string, Pin, ValidatePinOptions, string | undefined]>([
    ['4 digits is the minimum', Pin.fromString('1234'), {}, undefined],
    ['3 digits is too short', Pin.fromString('123'), {}, 'min-length'],
    ['device minPINLength 6 raises the minimum', Pin.fromString('12345'), { minLength: 6 }, 'min-length'],
    ['device minPINLength below 4 does not lower it', Pin.fromString('123'), { minLength: 2 }, 'min-length'],
    ['policy minLength 8 raises it further', Pin.fromString('1234567'), { minLength: 6, policy: { minLength: 8 } }, 'min-length'],
    ['4 emoji = 4 code points = 16 bytes is valid', Pin.fromString(EMOJI.repeat(4)), {}, undefined],
    ['3 emoji = 12 bytes is still too short (code points count)', Pin.fromString(EMOJI.repeat(3)), {}, 'min-length'],
    ['15 emoji = 60 bytes is valid', Pin.fromString(EMOJI.repeat(15)), {}, undefined],
    ['16 emoji = 64 bytes is too long', Pin.fromString(EMOJI.repeat(16)), {}, 'max-length'],
    ['63 ASCII bytes is valid', Pin.fromString('a1'.repeat(31) + 'b'), {}, undefined],
    ['64 ASCII bytes is too long', Pin.fromString('a1'.repeat(32)), {}, 'max-length'],
    ['device maxPINLength 8 (code points)', Pin.fromString('123456789'), { maxLength: 8 }, 'max-length'],
    ['8 emoji under maxPINLength 8', Pin.fromString(EMOJI.repeat(8)), { maxLength: 8 }, undefined],
    ['invalid UTF-8 bytes', new Pin(Uint8Array.of(0x31, 0x32, 0x33, 0xff)), {}, 'utf8'],
    ['NUL inside', Pin.fromString('12\u000034'), {}, 'nul'],
    ['decomposed bytes (not NFC)', new Pin(new TextEncoder().encode('cafe\u0301')), {}, 'nfc'],
  ])('%s', (_name, pin, opts, rule) => {
    expect(ruleOf(pin, opts)).toBe(rule);
  });

  it('normalises combining characters to NFC in Pin.fromString: e + U+0301 counts as 1 code point', () => {
    const pin = Pin.fromString('abce\u0301');
    expect(validatePin(pin)).toEqual({ codePoints: 4, bytes: 5 });
    expect(ruleOf(Pin.fromString('abe\u0301'))).toBe('min-length'); // 3 code points after NFC
  });

  it('reports the limit and unit, and never the PIN, in the error', () => {
    try {
      validatePin(Pin.fromString('98765'), { minLength: 6 });
      expect.unreachable();
    } catch (e) {
      const err = e as PinPolicyError;
      expect(err).toBeInstanceOf(KeytapError);
      expect(err.name).toBe('PinPolicyError');
      expect(err.code).toBe('PIN_POLICY_VIOLATION');
      expect(err.details).toEqual({ rule: 'min-length', limit: 6, unit: 'code-points' });
      expect(err.message).not.toContain('98765');
      expect(JSON.stringify(err.details)).not.toContain('98765');
    }
    expect(() => validatePin(Pin.fromString('x'.repeat(64)))).toThrow(expect.objectContaining({ details: { rule: 'max-length', limit: 63, unit: 'bytes' } }));
  });

  it('pinLengthLimits combines device and policy limits', () => {
    expect(pinLengthLimits()).toEqual({ minCodePoints: 4, maxCodePoints: 63, maxBytes: 63 });
    expect(pinLengthLimits({ minLength: 6, maxLength: 8, policy: { minLength: 5 } })).toEqual({ minCodePoints: 6, maxCodePoints: 8, maxBytes: 63 });
  });
});

describe('validatePin: local policy', () => {
  it.each<[string, string, ValidatePinOptions['policy'], string | undefined]>([
    ['3 repeats allowed at maxRepeated 3', '1112', { maxRepeated: 3 }, undefined],
    ['3 repeats refused at maxRepeated 2', '1112', { maxRepeated: 2 }, 'max-repeated'],
    ['repeats anywhere count', '12999', { maxRepeated: 2 }, 'max-repeated'],
    ['ascending run 1234 refused at maxSequential 3', '1234', { maxSequential: 3 }, 'max-sequential'],
    ['descending run dcba refused at maxSequential 3', 'xdcba', { maxSequential: 3 }, 'max-sequential'],
    ['run of 3 allowed at maxSequential 3', '1235', { maxSequential: 3 }, undefined],
    ['mixed directions do not add up', '12321', { maxSequential: 3 }, undefined],
    ['no policy: 1111 is fine', '1111', {}, undefined],
  ])('%s', (_name, text, policy, rule) => {
    expect(ruleOf(Pin.fromString(text), { policy })).toBe(rule);
  });

  it('allows reusing the current PIN by default (DESIGN.md §3)', () => {
    expect(ruleOf(Pin.fromString('2468'), { currentPin: Pin.fromString('2468') })).toBeUndefined();
  });

  it('refuses the current PIN when the policy forbids reuse or forcePINChange is set', () => {
    expect(ruleOf(Pin.fromString('2468'), { currentPin: Pin.fromString('2468'), policy: { forbidReuse: true } })).toBe('same-as-current');
    expect(ruleOf(Pin.fromString('2468'), { currentPin: Pin.fromString('2468'), forcePinChange: true })).toBe('same-as-current');
    expect(ruleOf(Pin.fromString('2469'), { currentPin: Pin.fromString('2468'), forcePinChange: true })).toBeUndefined();
  });
});
