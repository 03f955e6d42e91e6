import { describe, expect, it } from 'vitest';
import { decodeWiegand26, encodeWiegand26 } from '../../src/protocol/rfid/wiegand.ts';
import { decodePcProxCard, encodePcProxWiegand26, pcProxFeatureRequest } from '../../src/protocol/rfid/pcprox.ts';
import { BootKeyboardDecoder, encodeBootKeyboardLine } from '../../src/protocol/rfid/boot-keyboard.ts';
import { fromHex } from '../../src/util/bytes.ts';

describe('Wiegand 26 / H10301 (readers.md §8)', () => {
  it.each([
    [8, 27885, 0x210d9db],
    [1, 1, 0x2020002],
  ])('FC %i CN %i ↔ 0x%s', (fc, cn, v) => {
    expect(encodeWiegand26(fc, cn)).toBe(v);
    expect(decodeWiegand26(v)).toEqual({ facility: fc, cardNumber: cn, parityOk: true });
  });
  it('flags a flipped bit as a parity error', () => {
    expect(decodeWiegand26(0x210d9db ^ (1 << 5)).parityOk).toBe(false);
    expect(decodeWiegand26(0x210d9db ^ (1 << 20)).parityOk).toBe(false);
  });
  it('rejects values wider than 26 bits', () => expect(() => decodeWiegand26(1 << 26)).toThrow(RangeError));
});

describe('pcProx feature reports (readers.md §9)', () => {
  it('8F / 8E requests are report id 0 + 8 bytes', () => {
    expect(pcProxFeatureRequest(0x8f)).toEqual([0, 0x8f, 0, 0, 0, 0, 0, 0, 0]);
  });
  it('decodes ED 6C 08 + 18 18 as H10301 FC 8 CN 27885 (26 bits)', () => {
    const c = decodePcProxCard(fromHex('ED6C080000000000'), fromHex('1818000000000000'));
    expect(c).not.toBeNull();
    expect(c!.totalBits).toBe(26);
    expect(c!.dataBits).toBe(24);
    expect(c!.uid).toBe('086ced');
    expect(c!.wiegand26).toEqual({ facility: 8, cardNumber: 27885, value: 0x210d9db });
  });
  it('all zeros means no card', () => {
    expect(decodePcProxCard(new Uint8Array(8), new Uint8Array(8))).toBeNull();
  });
  it('encodePcProxWiegand26 gives the documented replies', () => {
    const r = encodePcProxWiegand26(8, 27885);
    expect(Array.from(r.card)).toEqual(Array.from(fromHex('ED6C080000000000')));
    expect(Array.from(r.bits)).toEqual(Array.from(fromHex('1818000000000000')));
  });
  it('a 34-bit card has no Wiegand 26 fields', () => {
    const c = decodePcProxCard(fromHex('0102030400000000'), fromHex('2020000000000000'));
    expect(c!.wiegand26).toBeUndefined();
    expect(c!.uid).toBe('04030201');
  });
});

describe('boot keyboard wedge (readers.md §10)', () => {
  const z = '0000000000000000';
  const vector = ['00001E0000000000', z, '00001F0000000000', z, '0000200000000000', z, '0000210000000000', z, '0000220000000000', z, '0000280000000000', z];
  it('decodes "12345⏎"', () => {
    const dec = new BootKeyboardDecoder();
    const lines = vector.map((h) => dec.push(fromHex(h))).filter((l) => l !== null);
    expect(lines).toEqual(['12345']);
  });
  it('decodes edges: "11" does not collapse when the key is released between', () => {
    const dec = new BootKeyboardDecoder();
    const lines = encodeBootKeyboardLine('1100').map((r) => dec.push(r)).filter((l) => l !== null);
    expect(lines).toEqual(['1100']);
  });
  it('a held key (level) is not repeated; a modifier-only change types nothing', () => {
    const dec2 = new BootKeyboardDecoder();
    const out = ['00001E0000000000', '00001E0000000000', '02001E0000000000', '0000280000000000'].map((h) => dec2.push(fromHex(h)));
    expect(out[3]).toBe('1');
  });
  it('rollover: two keys in one report are both new edges', () => {
    const dec = new BootKeyboardDecoder();
    dec.push(fromHex('00001E1F00000000'));
    expect(dec.push(fromHex('0000280000000000'))).toBe('12');
  });
  it('shift gives capitals; keypad digits decode', () => {
    const dec = new BootKeyboardDecoder();
    for (const r of encodeBootKeyboardLine('Ab')) {
      const l = dec.push(r);
      if (l !== null) expect(l).toBe('Ab');
    }
    dec.push(fromHex('0000590000000000'));
    dec.push(fromHex(z));
    expect(dec.push(fromHex('0000580000000000'))).toBe('1');
  });
  it('counts reports of the wrong size', () => {
    const dec = new BootKeyboardDecoder();
    expect(dec.push(new Uint8Array(3))).toBeNull();
    expect(dec.badReports).toBe(1);
  });
});
