/**
 * CTAP over NFC (CTAP 2.1 §11.3) on any `ApduTransport` (a PC/SC card connection, a virtual
 * card): SELECT of the FIDO AID, NFCCTAP_MSG `80 10 80 00` in 250-byte chained short APDUs
 * (or one extended APDU), 61XX GET RESPONSE, and NFCCTAP_GETRESPONSE `80 11` polling while the
 * card answers 91 00 with a keepalive status. Presents the same `CtapTransport` as USB HID, so
 * `FidoClient` works unchanged (python-fido2's `CtapPcscDevice.call` seam).
 */
import type { CtapTransport, ExchangeOptions } from './ctap-transport.ts';
import type { ApduTransport } from '../protocol/iso7816/apdu-transport.ts';
import { decodeResponseApdu, followUp, selectAidApdu } from '../protocol/iso7816/apdu.ts';
import { encodeNfcCtapMsg, FIDO_AID, nfcCtapGetResponseApdu, NfcCtap } from '../protocol/iso7816/nfcctap.ts';
import { StatusWord } from '../protocol/iso7816/status-words.ts';
import { ApduStatusError } from '../protocol/iso7816/errors.ts';
import { CtapHidCapability, CtapHidCmd } from '../protocol/ctaphid/constants.ts';
import { KeytapError } from '../protocol/errors.ts';
import { concatBytes } from '../util/bytes.ts';
import { Deadline, throwIfAborted } from '../util/deadline.ts';

/** Options of `CtapNfcTransport.open`. */
export interface CtapNfcTransportOptions {
  /** Send NFCCTAP_MSG as one extended APDU instead of chained short ones (default false: every reader handles chaining). */
  extended?: boolean;
  /** Default request budget when the caller gives no deadline (default 30 s). */
  defaultTimeoutMs?: number;
  signal?: AbortSignal;
  deadline?: Deadline;
}

const decoder = new TextDecoder();

export class CtapNfcTransport implements CtapTransport {
  readonly kind = 'nfc' as const;
  /** NFC has no CTAPHID INIT; report CBOR, and NMSG unless the applet said U2F_V2. */
  readonly capabilities: number;
  private closed = false;

  private constructor(
    private readonly apdu: ApduTransport,
    /** The SELECT reply: "FIDO_2_0" or "U2F_V2". */
    readonly version: string,
    private readonly options: CtapNfcTransportOptions,
  ) {
    this.capabilities = CtapHidCapability.CBOR | (version === 'U2F_V2' ? 0 : CtapHidCapability.NMSG);
  }

  get descriptor(): string {
    return this.apdu.descriptor;
  }

  /**
   * Selects the FIDO applet on `apdu` and returns the transport. Throws `ApduStatusError`
   * (code `APDU_STATUS`, e.g. 6A82) when the card has no FIDO applet; the caller keeps
   * ownership of `apdu` in that case.
   */
  static async open(apdu: ApduTransport, options: CtapNfcTransportOptions = {}): Promise<CtapNfcTransport> {
    const deadline = options.deadline ?? Deadline.in(options.defaultTimeoutMs ?? 30_000);
    const raw = await apdu.transmit(selectAidApdu(FIDO_AID), { signal: options.signal, deadline });
    const r = decodeResponseApdu(raw);
    if (r.sw !== StatusWord.SUCCESS) throw new ApduStatusError('SELECT FIDO applet', r.sw);
    return new CtapNfcTransport(apdu, decoder.decode(r.data), options);
  }

  async exchange(cmd: number, payload: Uint8Array, options: ExchangeOptions = {}): Promise<Uint8Array> {
    if (this.closed) throw new KeytapError('DEVICE_REMOVED', 'NFC transport is closed');
    const deadline = options.deadline ?? Deadline.in(this.options.defaultTimeoutMs ?? 30_000);
    const t = { signal: options.signal, deadline };
    if (cmd === CtapHidCmd.CBOR) {
      let r = await this.send(encodeNfcCtapMsg(payload, { extended: this.options.extended }), t);
      let last: number | null = null;
      // CTAP 2.1 §11.3.7: 91 00 = still processing; data[0] is the keepalive status.
      while (r.sw === StatusWord.NFCCTAP_UPDATE) {
        const status = r.data[0] ?? 1;
        if (status !== last) {
          last = status;
          options.onKeepalive?.(status === 2 ? 'up-needed' : 'processing');
        }
        throwIfAborted(options.signal, 'CTAP request');
        deadline.check('CTAP request');
        r = await this.send([nfcCtapGetResponseApdu()], t);
      }
      if (r.sw !== StatusWord.SUCCESS) throw new ApduStatusError('NFCCTAP_MSG', r.sw);
      return r.data;
    }
    if (cmd === CtapHidCmd.MSG) {
      // CTAP1/U2F: the payload is an APDU; answer `data ‖ SW` like CTAPHID_MSG does.
      const r = await this.send([payload], t);
      return concatBytes(r.data, Uint8Array.of(r.sw >> 8, r.sw & 0xff));
    }
    throw new KeytapError('UNSUPPORTED', `CTAPHID command 0x${cmd.toString(16)} has no NFC equivalent`);
  }

  // Sends the chained pieces (each but the last must answer 90 00), then follows 61XX/6CXX.
  private async send(apdus: Uint8Array[], t: { signal?: AbortSignal; deadline: Deadline }): Promise<{ data: Uint8Array; sw: number }> {
    for (let i = 0; i < apdus.length - 1; i++) {
      throwIfAborted(t.signal, 'CTAP request');
      const r = decodeResponseApdu(await this.apdu.transmit(apdus[i]!, t));
      if (r.sw !== StatusWord.SUCCESS) throw new ApduStatusError(`chained APDU ${i + 1}/${apdus.length}`, r.sw);
    }
    let command = apdus[apdus.length - 1]!;
    const parts: Uint8Array[] = [];
    for (let guard = 0; guard < 1024; guard++) {
      throwIfAborted(t.signal, 'CTAP request');
      const r = decodeResponseApdu(await this.apdu.transmit(command, t));
      const f = followUp(command, r);
      if (f.kind === 'done') {
        parts.push(r.data);
        return { data: concatBytes(...parts), sw: r.sw };
      }
      if (f.kind === 'get-response') parts.push(r.data);
      command = f.apdu;
    }
    throw new KeytapError('PROTOCOL_ERROR', 'card kept answering 61XX');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.apdu.close();
  }
}

/** The NFCCTAP constants, re-exported for callers that probe cards. */
export { NfcCtap };
