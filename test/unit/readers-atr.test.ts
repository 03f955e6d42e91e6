import { describe, expect, it } from 'vitest';
import { buildStorageCardAtr, build14443_4Atr, parseAtr } from '../../src/protocol/rfid/atr.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';
import { DecodeError } from '../../src/protocol/errors.ts';

// reference/readers.md §1 table (1K, 4K, Ultralight, Ultralight C and FeliCa verbatim in smartcard_list).
const TABLE: Array<[string, number, string, string]> = [
  ['3B8F8001804F0CA000000306030001000000006A', 0x0001, 'MIFARE Classic 1K', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA0000003060300020000000069', 0x0002, 'MIFARE Classic 4K', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA0000003060300030000000068', 0x0003, 'MIFARE Ultralight', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA000000306030026000000004D', 0x0026, 'MIFARE Mini', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA00000030603003A0000000051', 0x003a, 'MIFARE Ultralight C', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA00000030603003D0000000056', 0x003d, 'MIFARE Ultralight EV1', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA000000306030036000000005D', 0x0036, 'MIFARE Plus SL1 2K', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA000000306030037000000005C', 0x0037, 'MIFARE Plus SL1 4K', 'ISO 14443 A part 3'],
  ['3B8F8001804F0CA00000030611003B0000000042', 0x003b, 'FeliCa', 'FeliCa'],
];

describe('PC/SC part 3 storage-card ATRs (readers.md §1)', () => {
  it.each(TABLE)('%s → %s', (hex, code, name, std) => {
    const a = parseAtr(fromHex(hex));
    expect(a.kind).toBe('pcsc-storage');
    expect(a.pcsc?.cardNameCode).toBe(code);
    expect(a.cardType).toBe(name);
    expect(a.standard).toBe(std);
    expect(a.tckValid).toBe(true);
    expect(a.protocols).toEqual([0, 1]);
    expect(a.historical.length).toBe(15);
  });

  it.each(TABLE)('buildStorageCardAtr reproduces %s with its TCK', (hex, code) => {
    const ss = fromHex(hex)[12]!;
    expect(toHex(buildStorageCardAtr(ss, code))).toBe(hex.toLowerCase());
  });

  it.each([
    [0x0014, 'ICODE SLI'],
    [0x0017, 'PicoPass 2K'],
    [0x002f, 'Jewel'],
    [0x0030, 'Topaz NFC Tag'],
    [0xffd1, 'EM-Marin (EM4100)'],
  ])('names card 0x%s', (code, name) => {
    expect(parseAtr(buildStorageCardAtr(0x03, code)).cardType).toBe(name);
  });

  it('names unknown standards and card codes instead of failing', () => {
    const a = parseAtr(buildStorageCardAtr(0x7e, 0x4242));
    expect(a.cardType).toBe('Unknown card 0x4242');
    expect(a.standard).toBe('Unknown standard 0x7e');
  });

  it('flags a wrong TCK (ISO 7816-3 §8.2.5) without throwing', () => {
    const bad = fromHex('3B8F8001804F0CA000000306030001000000006B');
    const a = parseAtr(bad);
    expect(a.tckValid).toBe(false);
    expect(a.cardType).toBe('MIFARE Classic 1K');
  });
});

describe('ISO 14443-4 ATRs are recognised (readers.md §1)', () => {
  it('DESFire 3B 81 80 01 80 80', () => {
    const a = parseAtr(fromHex('3B8180018080'));
    expect(a.kind).toBe('iso14443-4');
    expect(a.cardType).toBe('MIFARE DESFire');
    expect(a.tckValid).toBe(true);
  });
  it('a phone/HCE with no historical bytes', () => {
    const atr = build14443_4Atr(new Uint8Array(0));
    expect(toHex(atr)).toBe('3b80800101');
    const a = parseAtr(atr);
    expect(a.kind).toBe('iso14443-4');
    expect(a.standard).toBe('ISO 14443-4');
    expect(a.tckValid).toBe(true);
  });
  it('build14443_4Atr gives the DESFire ATR', () => {
    expect(toHex(build14443_4Atr(Uint8Array.of(0x80)))).toBe('3b8180018080');
  });
  it('a contact T=0 ATR is "other" and needs no TCK', () => {
    const a = parseAtr(fromHex('3B6500002063CB6600'));
    expect(a.kind).toBe('other');
    expect(a.tck).toBeNull();
    expect(a.protocols).toEqual([0]);
  });
});

describe('malformed ATRs', () => {
  it.each([['3B'], ['3A00'], ['3B8F8001804F'], ['3B8180']])('%s throws ATR_MALFORMED', (hex) => {
    expect(() => parseAtr(fromHex(hex))).toThrow(DecodeError);
    try {
      parseAtr(fromHex(hex));
    } catch (e) {
      expect((e as DecodeError).code).toBe('ATR_MALFORMED');
    }
  });
});
