import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { Pin, SecretBytes } from '../../../src/protocol/secret.ts';
import { KeytapError, DecodeError } from '../../../src/protocol/errors.ts';
import { TimeoutError, CancelledError, DeviceRemovedError, DeviceBusyError, DeviceOpenError, ProtocolError } from '../../../src/protocol/transport-errors.ts';
import { CtapError, ctapStatusName } from '../../../src/protocol/ctap2/status.ts';

describe('secret types never print their value', () => {
  const pin = Pin.fromString('482913');
  it.each([
    ['String()', () => String(pin)],
    ['template literal', () => `${pin}`],
    ['JSON.stringify', () => JSON.stringify({ pin })],
    ['util.inspect', () => inspect({ pin })],
  ])('%s gives [redacted]', (_n, render) => {
    const out = render();
    expect(out).toContain('[redacted]');
    expect(out).not.toContain('482913');
  });

  it('normalises PINs to NFC before encoding (é as one code point)', () => {
    const decomposed = Pin.fromString('e\u0301e\u0301e\u0301e\u0301');
    expect(decomposed.length).toBe(8); // 4 × U+00E9 = 2 bytes each
    expect(decomposed.codePoints()).toBe(4);
  });

  it('wipe() zeroes the bytes and makes later use loud', () => {
    const raw = new Uint8Array([1, 2, 3]);
    const s = new SecretBytes(raw);
    s.wipe();
    expect([...raw]).toEqual([0, 0, 0]);
    expect(s.wiped).toBe(true);
    expect(() => s.exposeSecret()).toThrow(/after wipe/);
  });

  it('copyOf leaves the source untouched when the copy is wiped', () => {
    const src = new Uint8Array([9, 9]);
    const s = SecretBytes.copyOf(src);
    s.wipe();
    expect([...src]).toEqual([9, 9]);
  });
});

describe('error classes have stable names and codes', () => {
  it.each([
    [new KeytapError('X_CODE', 'm'), 'KeytapError', 'X_CODE'],
    [new DecodeError('m'), 'DecodeError', 'DECODE_ERROR'],
    [new TimeoutError('m'), 'TimeoutError', 'TIMEOUT'],
    [new CancelledError('m'), 'CancelledError', 'CANCELLED'],
    [new DeviceRemovedError('m'), 'DeviceRemovedError', 'DEVICE_REMOVED'],
    [new DeviceBusyError('m'), 'DeviceBusyError', 'DEVICE_BUSY'],
    [new DeviceOpenError('m'), 'DeviceOpenError', 'DEVICE_OPEN_FAILED'],
    [new ProtocolError('m'), 'ProtocolError', 'PROTOCOL_ERROR'],
    [new CtapError(0x31), 'CtapError', 'CTAP_PIN_INVALID'],
    [new CtapError(0xf3), 'CtapError', 'CTAP_UNKNOWN'],
  ])('%s', (err, name, code) => {
    expect(err).toBeInstanceOf(KeytapError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
  });

  it('CtapError keeps the numeric status for the API (CTAP 2.1 §8.2)', () => {
    const e = new CtapError(0x34, 'getPinToken');
    expect(e.status).toBe(0x34);
    expect(e.details.ctapStatus).toBe(0x34);
    expect(e.message).toContain('PIN_AUTH_BLOCKED');
    expect(ctapStatusName(0xe5)).toBe('0xe5');
  });
});
