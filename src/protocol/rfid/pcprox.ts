/**
 * RFIDeas pcProx USB HID feature-report protocol (reference/readers.md §9; micolous/pcprox):
 * 8-byte feature reports without report id. Send `8F` (card buffer 0: the card data, little
 * endian) first, then `8E` (buffer 1: the data bit count, twice). Total bits = data bits +
 * lead + trail parity; for H10301 (1 + 1) the data is `uint16 LE card number, uint8 facility`.
 * The worked vector is derived from documentation, not captured from hardware.
 */
import { encodeWiegand26 } from './wiegand.ts';
import { toHex } from '../../util/bytes.ts';

export const PcProxCommand = {
  DEVICE_INFO: 0x8a,
  CARD_DATA: 0x8f,
  CARD_BITS: 0x8e,
  SELECT_PAGE0: 0x80,
  SELECT_PAGE1: 0x81,
  SELECT_PAGE2: 0x82,
  END_CONFIG: 0x90,
} as const;

export const PCPROX_VID = 0x0c27;
export const PCPROX_PID = 0x3bfa;

/** The 9 bytes node-hid's `sendFeatureReport` needs: report id 0 then the 8-byte command. */
export function pcProxFeatureRequest(command: number, args: number[] = []): number[] {
  const out = [0x00, command, ...args];
  while (out.length < 9) out.push(0);
  return out.slice(0, 9);
}

export interface PcProxCard {
  /** Data bits in the buffer (parity excluded). */
  dataBits: number;
  /** Total bits on the wire (data + lead + trail parity). */
  totalBits: number;
  /** The card data, least significant byte first, trimmed to the bit count. */
  data: Uint8Array;
  /** Hex of the data as a big-endian number (the UID keytap reports), e.g. "086ced". */
  uid: string;
  /** H10301 fields when the card is Wiegand 26. */
  wiegand26?: { facility: number; cardNumber: number; value: number };
}

/**
 * Decodes the replies to `8F` (`card`) and `8E` (`bits`). Returns null when the reader has no
 * card (all zeros / zero bits). Lead and trail parity default to 1 each (H10301 config).
 */
export function decodePcProxCard(card: Uint8Array, bits: Uint8Array, options?: { leadParity?: number; trailParity?: number }): PcProxCard | null {
  const dataBits = bits[0] ?? 0;
  if (dataBits === 0 || card.every((b) => b === 0)) return null;
  const nBytes = Math.min(8, Math.ceil(dataBits / 8));
  const data = card.slice(0, nBytes);
  const totalBits = dataBits + (options?.leadParity ?? 1) + (options?.trailParity ?? 1);
  const be = Uint8Array.from(data).reverse();
  const out: PcProxCard = { dataBits, totalBits, data, uid: toHex(be) };
  if (totalBits === 26 && dataBits === 24) {
    const cardNumber = data[0]! | (data[1]! << 8);
    const facility = data[2]!;
    out.wiegand26 = { facility, cardNumber, value: encodeWiegand26(facility, cardNumber) };
  }
  return out;
}

/** The two replies a reader gives for an H10301 card (simulator and tests). */
export function encodePcProxWiegand26(facility: number, cardNumber: number): { card: Uint8Array; bits: Uint8Array } {
  return {
    card: Uint8Array.of(cardNumber & 0xff, cardNumber >> 8, facility, 0, 0, 0, 0, 0),
    bits: Uint8Array.of(24, 24, 0, 0, 0, 0, 0, 0),
  };
}
