/**
 * A FIDO authenticator as an NFC card (CTAP 2.1 §11.3): SELECT of the FIDO AID answers
 * "FIDO_2_0" (or "U2F_V2"), NFCCTAP_MSG carries CBOR with command chaining and 61XX GET
 * RESPONSE, and a slow request (user presence) answers 91 00 + keepalive status so the host
 * polls with NFCCTAP_GETRESPONSE (python-fido2 0.9.1 `pcsc.py` does exactly this).
 * Wraps any `CborHandler` (H2's VirtualAuthenticator implements it).
 */
import type { CborHandler, KeepaliveStatusValue } from '../ctaphid-device.ts';
import { decodeCommandApdu, encodeResponseApdu } from '../../protocol/iso7816/apdu.ts';
import { StatusWord } from '../../protocol/iso7816/status-words.ts';
import { CommandChainAssembler, FIDO_AID, FIDO_VERSION_FIDO2, FIDO_VERSION_U2F, NfcCtap, ResponseChunker } from '../../protocol/iso7816/nfcctap.ts';
import { build14443_4Atr } from '../../protocol/rfid/atr.ts';
import { bytesEqual } from '../../util/bytes.ts';
import { VirtualBadgeCard, type VirtualCard } from './virtual-card.ts';
import { randomBytes } from 'node:crypto';

/** A YubiKey 5 NFC's contactless ATR shape: 14443-4 with historical bytes "80 73 C0 21 C0 57 59 75 62 69 4B 65 79" ("YubiKey"). */
export const DEFAULT_FIDO_ATR = build14443_4Atr(Uint8Array.of(0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79));

export interface FidoNfcCardOptions {
  atr?: Uint8Array;
  /** SELECT reply. Default "FIDO_2_0" (CTAP2 only; the virtual authenticator has no U2F). */
  selectVersion?: 'FIDO_2_0' | 'U2F_V2';
  /** How long NFCCTAP_MSG waits for the handler before answering 91 00 (default 100 ms). */
  keepaliveAfterMs?: number;
  /** Called on vpcd power off (pcscd powers the card off on every disconnect). */
  onPowerOff?: () => void;
  /**
   * The UID the "reader" reports for GET DATA `FF CA 00 00 00` (readers answer class FF
   * themselves). Default: a random 4-byte NFCID1 starting with 08 (ISO 14443-3 random UID), as
   * security keys present.
   */
  uid?: Uint8Array;
}

type Running = { done: boolean; result?: Uint8Array; status: KeepaliveStatusValue; promise: Promise<void>; abort: AbortController };

const empty = new Uint8Array(0);
const sw = (s: number): Uint8Array => encodeResponseApdu(empty, s);

export class FidoNfcCard implements VirtualCard {
  readonly atr: Uint8Array;
  private selected = false;
  private readonly chain = new CommandChainAssembler();
  private readonly chunker = new ResponseChunker();
  private running: Running | null = null;
  // Class FF pseudo-APDUs are the reader's business (PC/SC part 3): answered like a badge.
  private readonly reader: VirtualBadgeCard;
  private readonly keepaliveAfterMs: number;
  /** C-APDUs received (benches read it). */
  apdus = 0;

  constructor(
    private readonly handler: CborHandler,
    private readonly options: FidoNfcCardOptions = {},
  ) {
    this.atr = options.atr ?? DEFAULT_FIDO_ATR;
    this.keepaliveAfterMs = options.keepaliveAfterMs ?? 100;
    this.reader = new VirtualBadgeCard(options.uid ?? Uint8Array.of(0x08, ...randomBytes(3)), this.atr);
  }

  /** The UID GET DATA returns. */
  get uid(): Uint8Array {
    return this.reader.uid;
  }

  powerOn(): void {
    this.resetState();
  }
  reset(): void {
    this.resetState();
  }
  powerOff(): void {
    this.resetState();
    this.options.onPowerOff?.();
  }

  private resetState(): void {
    this.selected = false;
    this.chain.reset();
    this.chunker.reset();
    this.running?.abort.abort();
    this.running = null;
  }

  async transmit(raw: Uint8Array): Promise<Uint8Array> {
    this.apdus++;
    let cmd;
    try {
      cmd = decodeCommandApdu(raw);
    } catch {
      return sw(StatusWord.WRONG_LENGTH);
    }
    // SELECT by name.
    if (cmd.cla === 0x00 && cmd.ins === 0xa4 && cmd.p1 === 0x04) {
      this.chain.reset();
      this.chunker.reset();
      if (!bytesEqual(cmd.data, FIDO_AID)) {
        this.selected = false;
        return sw(StatusWord.FILE_NOT_FOUND);
      }
      this.selected = true;
      return encodeResponseApdu(this.options.selectVersion === 'U2F_V2' ? FIDO_VERSION_U2F : FIDO_VERSION_FIDO2, StatusWord.SUCCESS);
    }
    if (cmd.cla === 0xff) return this.reader.transmit(raw);
    // GET RESPONSE (ISO 7816-4 §7.6.1).
    if (cmd.cla === 0x00 && cmd.ins === 0xc0) {
      if (!this.chunker.pending) return sw(StatusWord.CONDITIONS_NOT_SATISFIED);
      return this.chunker.next(cmd.le);
    }
    if (!this.selected) return sw(cmd.cla === 0x00 || (cmd.cla & 0x80) !== 0 ? StatusWord.CONDITIONS_NOT_SATISFIED : StatusWord.CLA_NOT_SUPPORTED);
    const cla = cmd.cla & ~NfcCtap.CLA_CHAINING;
    if (cla === NfcCtap.CLA && cmd.ins === NfcCtap.INS_MSG) {
      let whole;
      try {
        whole = this.chain.push(cmd);
      } catch {
        return sw(StatusWord.WRONG_DATA);
      }
      if (whole === null) return sw(StatusWord.SUCCESS);
      if (this.running && !this.running.done) return sw(StatusWord.CONDITIONS_NOT_SATISFIED);
      this.running = this.start(whole.data);
      return this.answer(whole.le, (whole.p1 & NfcCtap.P1_GETRESPONSE_SUPPORTED) !== 0);
    }
    if (cla === NfcCtap.CLA && cmd.ins === NfcCtap.INS_GETRESPONSE) {
      if (!this.running) return sw(StatusWord.CONDITIONS_NOT_SATISFIED);
      return this.answer(cmd.le, true);
    }
    return sw(StatusWord.INS_NOT_SUPPORTED);
  }

  private start(request: Uint8Array): Running {
    const abort = new AbortController();
    const run: Running = { done: false, status: 1, abort, promise: Promise.resolve() };
    run.promise = this.handler
      .handleCbor(request, { signal: abort.signal, onKeepalive: (s) => (run.status = s) })
      .then(
        (r) => {
          run.result = r;
        },
        // A handler that throws answers CTAP1_ERR_OTHER rather than leaving the host hanging.
        () => {
          run.result = Uint8Array.of(0x7f);
        },
      )
      .finally(() => {
        run.done = true;
      });
    return run;
  }

  // Waits a little for the handler; if still busy and the host polls, answer 91 00 + status.
  private async answer(le: number | null, canPoll: boolean): Promise<Uint8Array> {
    const run = this.running!;
    if (!run.done) {
      if (canPoll) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([run.promise, new Promise<void>((r) => (timer = setTimeout(r, this.keepaliveAfterMs)))]);
        clearTimeout(timer);
      } else await run.promise;
    }
    if (!run.done) return encodeResponseApdu(Uint8Array.of(run.status), StatusWord.NFCCTAP_UPDATE);
    this.running = null;
    return this.chunker.start(run.result!, StatusWord.SUCCESS, le);
  }
}
