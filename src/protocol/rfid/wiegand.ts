/**
 * Wiegand 26 / HID H10301 (reference/readers.md §8): bit 1 even parity over bits 2–13,
 * bits 2–9 facility code, bits 10–25 card number, bit 26 odd parity over bits 14–25.
 * The 26-bit value holds bit 1 as its most significant bit.
 */
export interface Wiegand26 {
  facility: number;
  cardNumber: number;
  /** Both parity bits check out. */
  parityOk: boolean;
}

const bit = (v: number, i: number): number => (v >>> (25 - i)) & 1; // 0-based b[i]

/** Decodes a 26-bit value (0 ≤ v < 2^26). */
export function decodeWiegand26(v: number): Wiegand26 {
  if (!Number.isInteger(v) || v < 0 || v >= 1 << 26) throw new RangeError('Wiegand 26 value out of range');
  let even = 0;
  for (let i = 0; i <= 12; i++) even += bit(v, i);
  let odd = 0;
  for (let i = 13; i <= 25; i++) odd += bit(v, i);
  return { facility: (v >>> 17) & 0xff, cardNumber: (v >>> 1) & 0xffff, parityOk: even % 2 === 0 && odd % 2 === 1 };
}

/** Encodes facility (8 bits) and card number (16 bits) with both parity bits. */
export function encodeWiegand26(facility: number, cardNumber: number): number {
  if (facility < 0 || facility > 0xff || cardNumber < 0 || cardNumber > 0xffff) throw new RangeError('facility 0..255, card number 0..65535');
  let v = (facility << 17) | (cardNumber << 1);
  let even = 0;
  for (let i = 1; i <= 12; i++) even += bit(v, i);
  if (even % 2 === 1) v |= 1 << 25;
  let odd = 0;
  for (let i = 13; i <= 24; i++) odd += bit(v, i);
  if (odd % 2 === 0) v |= 1;
  return v;
}
