/**
 * Virtual contactless cards answering APDUs the way a PC/SC reader's card would
 * (reference/readers.md §2): GET DATA `FF CA 00 00 00` returns the UID, `FF CA 01 00 00` the
 * ATS historical bytes of an ISO 14443-4 card; anything unknown gets a status word, never a
 * crash (Debian's vicc dies on FF CA, which is why keytap presents its own cards).
 */
import { decodeCommandApdu, encodeResponseApdu } from '../../protocol/iso7816/apdu.ts';
import { StatusWord } from '../../protocol/iso7816/status-words.ts';
import { buildStorageCardAtr, parseAtr } from '../../protocol/rfid/atr.ts';
import { fromHex } from '../../util/bytes.ts';

/** What the vpcd bridge needs from a card. */
export interface VirtualCard {
  /** The ATR the reader reports for this card. */
  readonly atr: Uint8Array;
  /** Answers one C-APDU with an R-APDU (`data ‖ SW1 SW2`). Must not throw. */
  transmit(apdu: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** vpcd control 01 / 00 / 02 (SCardConnect powers on, off, on). */
  powerOn?(): void;
  powerOff?(): void;
  reset?(): void;
}

/** MIFARE Classic 1K from the PC/SC part 3 table: the default badge ATR. */
export const DEFAULT_BADGE_ATR = buildStorageCardAtr(0x03, 0x0001);

/** A badge: a UID (4, 7 or 10 bytes) behind an ATR (storage card or 14443-4). */
export class VirtualBadgeCard implements VirtualCard {
  readonly atr: Uint8Array;
  readonly uid: Uint8Array;
  /** APDUs received (tests and benches read it). */
  apdus = 0;

  constructor(uid: Uint8Array, atr: Uint8Array = DEFAULT_BADGE_ATR) {
    if (uid.length === 0 || uid.length > 10) throw new RangeError('a UID is 1..10 bytes');
    this.uid = uid;
    this.atr = atr;
  }

  /** Parses `UID[:ATR]` as the CLI takes it (hex, separators allowed). */
  static fromSpec(spec: string): VirtualBadgeCard {
    const [uid, atr] = spec.split(':', 2) as [string, string | undefined];
    return new VirtualBadgeCard(fromHex(uid), atr ? fromHex(atr) : DEFAULT_BADGE_ATR);
  }

  transmit(raw: Uint8Array): Uint8Array {
    this.apdus++;
    let cmd;
    try {
      cmd = decodeCommandApdu(raw);
    } catch {
      return encodeResponseApdu(new Uint8Array(0), StatusWord.WRONG_LENGTH);
    }
    if (cmd.cla === 0xff && cmd.ins === 0xca) {
      let data: Uint8Array;
      if (cmd.p1 === 0x00 && cmd.p2 === 0x00) data = this.uid;
      else if (cmd.p1 === 0x01 && cmd.p2 === 0x00) {
        // ATS historical bytes exist only for ISO 14443-4 cards.
        const parsed = parseAtr(this.atr);
        if (parsed.kind !== 'iso14443-4') return encodeResponseApdu(new Uint8Array(0), StatusWord.FUNCTION_NOT_SUPPORTED);
        data = parsed.historical;
      } else return encodeResponseApdu(new Uint8Array(0), StatusWord.WRONG_P1P2);
      // PC/SC part 3: Le 00 = full length; a shorter Le gets 6C XX with the right length.
      if (cmd.le !== null && cmd.le !== 256 && cmd.le < data.length) return encodeResponseApdu(new Uint8Array(0), 0x6c00 | data.length);
      return encodeResponseApdu(data, StatusWord.SUCCESS);
    }
    if (cmd.cla === 0x00 && cmd.ins === 0xa4) return encodeResponseApdu(new Uint8Array(0), StatusWord.FILE_NOT_FOUND);
    if (cmd.cla === 0xff) return encodeResponseApdu(new Uint8Array(0), StatusWord.FUNCTION_NOT_SUPPORTED);
    return encodeResponseApdu(new Uint8Array(0), StatusWord.INS_NOT_SUPPORTED);
  }
}
