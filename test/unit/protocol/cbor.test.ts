import { describe, expect, it } from 'vitest';
import { decodeCbor, decodeCborWithInfo, encodeCbor, CborError, CborTag } from '../../../src/protocol/cbor.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';

describe('CBOR encoder (CTAP 2.1 §8 canonical form)', () => {
  it.each([
    [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65536, '1a00010000'],
    [-1, '20'], [-25, '3818'], [-257, '390100'], [2 ** 32, '1b0000000100000000'],
    ['a', '6161'], [true, 'f5'], [false, 'f4'], [null, 'f6'],
  ])('encodes %o as %s (shortest form)', (v, hex) => {
    expect(toHex(encodeCbor(v as never))).toBe(hex);
  });

  it('sorts map keys by encoded length, then bytewise (ints before strings, 0x0a before 0x18)', () => {
    const m = new Map<number | string, unknown>([['up', true], [24, 1], [-1, 2], [10, 3], [1, 4], ['rk', false]]);
    // keys: 01, 0a, 20(-1) (1 byte each, bytewise), then 1818 (2 bytes), then 627570/62726b (3 bytes: "rk" < "up")
    expect(toHex(encodeCbor(m as never))).toBe('a6' + '0104' + '0a03' + '2002' + '181801' + '62726bf4' + '627570f5');
  });

  it('omits map members whose value is undefined (absent optional parameters)', () => {
    expect(toHex(encodeCbor(new Map([[1, 2], [3, undefined]]) as never))).toBe('a10102');
  });

  it('refuses floats, which CTAP2 canonical CBOR does not use', () => {
    expect(() => encodeCbor(1.5)).toThrow(RangeError);
  });
});

describe('CBOR decoder', () => {
  it('round-trips nested structures with byte strings', () => {
    const v = new Map<unknown, unknown>([[1, [fromHex('0102'), 'x']], [2, new Map([['k', -7]])]]);
    const enc = encodeCbor(v as never);
    const { value, canonical } = decodeCborWithInfo(enc);
    expect(canonical).toBe(true);
    expect(toHex(encodeCbor(value))).toBe(toHex(enc));
  });

  it('accepts well-formed non-canonical input and says so (unsorted keys, long-form ints)', () => {
    const unsorted = decodeCborWithInfo(fromHex('a2627570f562726bf4'));
    expect(unsorted.canonical).toBe(false);
    expect((unsorted.value as Map<string, boolean>).get('rk')).toBe(false);
    const longForm = decodeCborWithInfo(fromHex('1800'));
    expect(longForm.value).toBe(0);
    expect(longForm.canonical).toBe(false);
    const indefinite = decodeCborWithInfo(fromHex('9f0102ff'));
    expect(indefinite.value).toEqual([1, 2]);
    expect(indefinite.canonical).toBe(false);
  });

  it('decodes tags into CborTag and marks them non-canonical', () => {
    const r = decodeCborWithInfo(fromHex('d9010380'));
    expect(r.value).toBeInstanceOf(CborTag);
    expect(r.canonical).toBe(false);
  });

  it.each([
    ['truncated head', '19'],
    ['truncated byte string', '4401'],
    ['trailing bytes', '0000'],
    ['reserved additional info', '1c'],
    ['invalid UTF-8 text', '62c328'],
    ['duplicate map key', 'a201010102'],
    ['length beyond input', '5bffffffffffffffff'],
    ['empty input', ''],
    ['break outside indefinite item', 'ff'],
  ])('rejects malformed input: %s', (_name, hex) => {
    expect(() => decodeCbor(fromHex(hex))).toThrow(CborError);
  });

  it('bounds nesting depth so a hostile device cannot exhaust the stack', () => {
    expect(() => decodeCbor(new Uint8Array(100).fill(0x81))).toThrow(/nesting/);
  });

  it('gives CborError a stable name and code', () => {
    try {
      decodeCbor(fromHex('19'));
    } catch (e) {
      expect((e as CborError).name).toBe('CborError');
      expect((e as CborError).code).toBe('CBOR_MALFORMED');
    }
    expect.assertions(2);
  });
});

describe('decodeCborPrefix', () => {
  it('decodes the first item and reports where it ended (COSE key followed by extensions)', async () => {
    const { decodeCborPrefix } = await import('../../../src/protocol/cbor.ts');
    const r = decodeCborPrefix(fromHex('a10102' + 'a0' + 'ff'));
    expect(r.length).toBe(3);
    expect((r.value as Map<number, number>).get(1)).toBe(2);
    expect(() => decodeCborPrefix(fromHex('19'))).toThrow(CborError);
  });
});
