/**
 * ATR parsing (ISO/IEC 7816-3 §8.2) with the PC/SC part 3 contactless classification
 * (reference/readers.md §1): storage cards carry RID A0 00 00 03 06, SS and NN NN in their
 * historical bytes; ISO 14443-4 cards (DESFire, smart cards, phones) get `3B 8n 80 01 <ATS
 * historical bytes> TCK` and are recognised as such, never forced through an AID.
 */
import { DecodeError } from '../errors.ts';
import { toHex } from '../../util/bytes.ts';
import { PcscCardName, PcscStandard } from './pcsc-card-names.ts';

/** RID of the PC/SC workgroup, which marks a part 3 storage-card ATR. */
export const PCSC_RID = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x06);

/** What kind of contactless card an ATR describes. */
export type AtrKind = 'pcsc-storage' | 'iso14443-4' | 'other';

export interface ParsedAtr {
  /** 0x3B direct or 0x3F inverse convention. */
  ts: number;
  /** Protocols offered (T=0, T=1, ...), in order of appearance; [0] when none is indicated. */
  protocols: number[];
  /** The historical bytes (T1..TK). */
  historical: Uint8Array;
  /** TCK, when the ATR carries one (any protocol other than T=0 indicated). */
  tck: number | null;
  /** True when there is no TCK or the XOR of T0..TCK is 0. */
  tckValid: boolean;
  kind: AtrKind;
  /** SS, NN NN and their names for a part 3 storage card. */
  pcsc?: { standard: number; standardName: string; cardNameCode: number; cardName: string };
  /**
   * The card type to show users: the part 3 card name for storage cards ("MIFARE Classic 1K"),
   * "ISO 14443-4" (or a known name such as "MIFARE DESFire") for 14443-4 cards, else "Unknown".
   */
  cardType: string;
  /** Short standard label: "ISO 14443 A part 3", "ISO 14443-4", "FeliCa", ... */
  standard: string;
}

// Historical bytes of well-known ISO 14443-4 ATRs (smartcard_list.txt). Keyed by hex.
const KNOWN_14443_4: Readonly<Record<string, string>> = {
  '80': 'MIFARE DESFire',
  '': 'ISO 14443-4 (no historical bytes)',
};

/**
 * Parses an ATR. Throws `DecodeError` (code `ATR_MALFORMED`) when the structure is cut short;
 * a bad TCK is reported in `tckValid`, not thrown, since readers are known to get it wrong.
 */
export function parseAtr(atr: Uint8Array): ParsedAtr {
  if (atr.length < 2) throw new DecodeError(`ATR too short (${atr.length} bytes)`, { code: 'ATR_MALFORMED' });
  const ts = atr[0]!;
  if (ts !== 0x3b && ts !== 0x3f) throw new DecodeError(`ATR TS must be 3B or 3F, got ${ts.toString(16)}`, { code: 'ATR_MALFORMED' });
  let y = atr[1]! >> 4;
  const k = atr[1]! & 0x0f;
  let i = 2;
  const protocols: number[] = [];
  // Interface bytes: TAi/TBi/TCi present per the high nibble of the previous TD (or T0).
  const tds: number[] = [];
  for (;;) {
    if (y & 1) i++; // TA
    if (y & 2) i++; // TB
    if (y & 4) i++; // TC
    if (y & 8) {
      if (i >= atr.length) throw new DecodeError('ATR ends inside its interface bytes', { code: 'ATR_MALFORMED' });
      const td = atr[i]!;
      i++;
      tds.push(td);
      if (!protocols.includes(td & 0x0f)) protocols.push(td & 0x0f);
      y = td >> 4;
    } else break;
  }
  if (i > atr.length) throw new DecodeError('ATR ends inside its interface bytes', { code: 'ATR_MALFORMED' });
  if (i + k > atr.length) throw new DecodeError(`ATR announces ${k} historical bytes but has ${atr.length - i}`, { code: 'ATR_MALFORMED' });
  const historical = atr.slice(i, i + k);
  i += k;
  // ISO 7816-3 §8.2.5: TCK is present unless only T=0 is indicated.
  const needsTck = protocols.some((p) => p !== 0);
  let tck: number | null = null;
  let tckValid = true;
  if (needsTck) {
    if (i >= atr.length) throw new DecodeError('ATR lacks its TCK byte', { code: 'ATR_MALFORMED' });
    tck = atr[i]!;
    let x = 0;
    for (let j = 1; j <= i; j++) x ^= atr[j]!;
    tckValid = x === 0;
  }
  if (protocols.length === 0) protocols.push(0);

  const base = { ts, protocols, historical, tck, tckValid };
  // PC/SC part 3: 80 4F <len> RID SS NN NN RFU...
  if (historical.length >= 11 && historical[0] === 0x80 && historical[1] === 0x4f && historical[2]! >= 8 && PCSC_RID.every((b, j) => historical[3 + j] === b)) {
    const standard = historical[8]!;
    const cardNameCode = (historical[9]! << 8) | historical[10]!;
    const standardName = PcscStandard[standard] ?? `Unknown standard 0x${standard.toString(16).padStart(2, '0')}`;
    const cardName = PcscCardName[cardNameCode] ?? `Unknown card 0x${cardNameCode.toString(16).padStart(4, '0')}`;
    return { ...base, kind: 'pcsc-storage', pcsc: { standard, standardName, cardNameCode, cardName }, cardType: cardName, standard: standardName };
  }
  // Contactless 14443-4: 3B 8n 80 01 (TD1 = 80 → TD2, T=0; TD2 = 01 → T=1, nothing more).
  if (ts === 0x3b && (atr[1]! & 0xf0) === 0x80 && tds.length === 2 && tds[0] === 0x80 && tds[1] === 0x01) {
    const name = KNOWN_14443_4[toHex(historical)] ?? 'ISO 14443-4';
    return { ...base, kind: 'iso14443-4', cardType: name, standard: 'ISO 14443-4' };
  }
  return { ...base, kind: 'other', cardType: 'Unknown', standard: 'Unknown' };
}

/**
 * Builds a PC/SC part 3 storage-card ATR for `standard` and `cardName` with its TCK
 * (what a reader sends for such a card; the simulator uses it).
 */
export function buildStorageCardAtr(standard: number, cardName: number): Uint8Array {
  const atr = Uint8Array.of(0x3b, 0x8f, 0x80, 0x01, 0x80, 0x4f, 0x0c, ...PCSC_RID, standard, cardName >> 8, cardName & 0xff, 0, 0, 0, 0, 0);
  atr[atr.length - 1] = xorTck(atr);
  return atr;
}

/** Builds a contactless ISO 14443-4 ATR `3B 8n 80 01 <historical> TCK` (PC/SC part 3). */
export function build14443_4Atr(historical: Uint8Array): Uint8Array {
  if (historical.length > 15) throw new RangeError('at most 15 historical bytes');
  const atr = Uint8Array.of(0x3b, 0x80 | historical.length, 0x80, 0x01, ...historical, 0);
  atr[atr.length - 1] = xorTck(atr);
  return atr;
}

// XOR of T0 … the byte before TCK (TS excluded).
function xorTck(atr: Uint8Array): number {
  let x = 0;
  for (let j = 1; j < atr.length - 1; j++) x ^= atr[j]!;
  return x;
}
