/**
 * CTAP over NFC / ISO 7816 (CTAP 2.1 §11.3): the FIDO applet, NFCCTAP_MSG `80 10 80 00`
 * (P1 0x80: the client supports NFCCTAP_GETRESPONSE), command chaining in 250-byte pieces
 * with CLA 0x90 (ISO 7816-4 §5.1.1.1), 61XX + GET RESPONSE for long replies, and
 * NFCCTAP_GETRESPONSE `80 11 00 00` polling while the card answers 91 00 (keepalive).
 * Interop peer: python-fido2 0.9.1 `fido2/pcsc.py`, which sends exactly these forms.
 * Both sides live here: the host's encoders and the card's chain assembler/response chunker.
 */
import { ApduFormatError } from './errors.ts';
import { encodeCommandApdu, encodeResponseApdu, type CommandApdu } from './apdu.ts';
import { StatusWord } from './status-words.ts';
import { concatBytes } from '../../util/bytes.ts';

/** FIDO applet AID (CTAP 2.1 §11.3.3). */
export const FIDO_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x06, 0x47, 0x2f, 0x00, 0x01);

/** SELECT replies (CTAP 2.1 §11.3.4): "FIDO_2_0" for a CTAP2-only applet, "U2F_V2" otherwise. */
export const FIDO_VERSION_FIDO2 = new TextEncoder().encode('FIDO_2_0');
export const FIDO_VERSION_U2F = new TextEncoder().encode('U2F_V2');

export const NfcCtap = {
  CLA: 0x80,
  /** NFCCTAP_MSG. */
  INS_MSG: 0x10,
  /** NFCCTAP_GETRESPONSE. */
  INS_GETRESPONSE: 0x11,
  /** P1 of NFCCTAP_MSG: the client supports NFCCTAP_GETRESPONSE (keepalive polling). */
  P1_GETRESPONSE_SUPPORTED: 0x80,
  /** ISO 7816-4 command chaining bit in CLA. */
  CLA_CHAINING: 0x10,
  /** python-fido2 and most platforms chain short APDUs in 250-byte pieces. */
  CHAIN_CHUNK: 250,
} as const;

/**
 * The C-APDUs that carry one NFCCTAP_MSG. Short form: 250-byte pieces, every one but the last
 * with CLA | 0x10 and no Le, the last with Le 00. Extended form: one APDU, Lc and Le 00 00.
 */
export function encodeNfcCtapMsg(payload: Uint8Array, options?: { extended?: boolean; chunk?: number; cla?: number; ins?: number; p1?: number }): Uint8Array[] {
  const cla = options?.cla ?? NfcCtap.CLA;
  const ins = options?.ins ?? NfcCtap.INS_MSG;
  const p1 = options?.p1 ?? NfcCtap.P1_GETRESPONSE_SUPPORTED;
  if (options?.extended) return [encodeCommandApdu({ cla, ins, p1, p2: 0, data: payload, le: 65536 }, { extended: true })];
  const chunk = options?.chunk ?? NfcCtap.CHAIN_CHUNK;
  const out: Uint8Array[] = [];
  let rest = payload;
  while (rest.length > chunk) {
    out.push(encodeCommandApdu({ cla: cla | NfcCtap.CLA_CHAINING, ins, p1, p2: 0, data: rest.subarray(0, chunk), le: null }));
    rest = rest.subarray(chunk);
  }
  out.push(encodeCommandApdu({ cla, ins, p1, p2: 0, data: rest, le: 256 }));
  return out;
}

/** NFCCTAP_GETRESPONSE `80 11 00 00 00` (python-fido2 appends Le 00). */
export function nfcCtapGetResponseApdu(): Uint8Array {
  return Uint8Array.of(NfcCtap.CLA, NfcCtap.INS_GETRESPONSE, 0x00, 0x00, 0x00);
}

/**
 * Card side of command chaining (ISO 7816-4 §5.1.1.1): collects chained pieces and yields the
 * whole command once the last piece (chaining bit clear) arrives. A piece with another INS
 * than the chain started with restarts nothing and throws `ApduFormatError`.
 */
export class CommandChainAssembler {
  private parts: Uint8Array[] = [];
  private head: { cla: number; ins: number; p1: number; p2: number } | null = null;
  private total = 0;

  /** @param maxLength cap on the assembled data (default 65535, vpcd's MaxAPDUDataSize). */
  constructor(private readonly maxLength = 65535) {}

  /** True while a chain is open. */
  get pending(): boolean {
    return this.head !== null;
  }

  /** Feeds one decoded C-APDU; returns null while more pieces are expected (answer 90 00). */
  push(cmd: CommandApdu): CommandApdu | null {
    const chained = (cmd.cla & NfcCtap.CLA_CHAINING) !== 0;
    const cla = cmd.cla & ~NfcCtap.CLA_CHAINING;
    if (this.head && (this.head.ins !== cmd.ins || this.head.cla !== cla)) {
      this.reset();
      throw new ApduFormatError('command chain interrupted by a different command');
    }
    this.head ??= { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2 };
    this.total += cmd.data.length;
    if (this.total > this.maxLength) {
      this.reset();
      throw new ApduFormatError(`chained command longer than ${this.maxLength} bytes`);
    }
    this.parts.push(cmd.data);
    if (chained) return null;
    const whole: CommandApdu = { ...this.head, data: concatBytes(...this.parts), le: cmd.le };
    this.reset();
    return whole;
  }

  reset(): void {
    this.parts = [];
    this.head = null;
    this.total = 0;
  }
}

/**
 * Card side of long responses (ISO 7816-4 §5.1.3): hands out `Le`-sized pieces with 61XX
 * until the rest fits, then the final status word.
 */
export class ResponseChunker {
  private rest: Uint8Array = new Uint8Array(0);
  private finalSw = StatusWord.SUCCESS as number;

  /** True while GET RESPONSE has data to fetch. */
  get pending(): boolean {
    return this.rest.length > 0;
  }

  /** Starts a response of `data` ending in `sw`; returns the first R-APDU for `le`. */
  start(data: Uint8Array, sw: number, le: number | null): Uint8Array {
    this.rest = data;
    this.finalSw = sw;
    return this.next(le);
  }

  /** The next R-APDU for a GET RESPONSE with `le` (null or 0 → 256). */
  next(le: number | null): Uint8Array {
    const max = le === null || le === 0 ? 256 : le;
    const piece = this.rest.subarray(0, max);
    this.rest = this.rest.subarray(piece.length);
    if (this.rest.length === 0) return encodeResponseApdu(piece, this.finalSw);
    return encodeResponseApdu(piece, 0x6100 | (Math.min(this.rest.length, 256) & 0xff));
  }

  reset(): void {
    this.rest = new Uint8Array(0);
  }
}
