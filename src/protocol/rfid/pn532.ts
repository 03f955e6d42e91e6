/**
 * PN532 host interface frames (reference/readers.md §7; NXP UM0701-02 §6.2; libnfc pn53x.c):
 *   normal   00 00 FF LEN LCS TFI PD… DCS 00        LCS = -LEN, DCS = -(TFI + ΣPD)
 *   extended 00 00 FF FF FF LENm LENl LCS TFI … DCS 00
 *   ACK 00 00 FF 00 FF 00 · NACK 00 00 FF FF 00 00 · error 00 00 FF 01 FF 7F 81 00
 * TFI D4 host→PN532, D5 PN532→host; a response code is the request code + 1.
 */
export const Pn532Tfi = { HOST_TO_PN532: 0xd4, PN532_TO_HOST: 0xd5 } as const;

export const Pn532Cmd = {
  GetFirmwareVersion: 0x02,
  SAMConfiguration: 0x14,
  InListPassiveTarget: 0x4a,
  InDataExchange: 0x40,
  InRelease: 0x52,
} as const;

export const PN532_ACK = Uint8Array.of(0x00, 0x00, 0xff, 0x00, 0xff, 0x00);
export const PN532_NACK = Uint8Array.of(0x00, 0x00, 0xff, 0xff, 0x00, 0x00);
/** HSU wake-up: 0x55 0x55 then zeros, sent before the first command (libnfc pn532_uart.c). */
export const PN532_WAKEUP = Uint8Array.of(0x55, 0x55, ...new Array<number>(14).fill(0));

/** Encodes a host→PN532 command frame (extended when TFI + data exceed 255 bytes). */
export function encodePn532Command(cmd: number, params: Uint8Array | number[] = [], tfi: number = Pn532Tfi.HOST_TO_PN532): Uint8Array {
  const body = [tfi, cmd, ...params];
  const len = body.length;
  let sum = 0;
  for (const b of body) sum += b;
  const dcs = (0x100 - (sum & 0xff)) & 0xff;
  if (len <= 255) return Uint8Array.from([0x00, 0x00, 0xff, len, (0x100 - len) & 0xff, ...body, dcs, 0x00]);
  const m = len >> 8;
  const l = len & 0xff;
  return Uint8Array.from([0x00, 0x00, 0xff, 0xff, 0xff, m, l, (0x100 - ((m + l) & 0xff)) & 0xff, ...body, dcs, 0x00]);
}

export type Pn532Frame =
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'error' }
  /** A normal or extended information frame: `tfi`, the command/response code and its data. */
  | { kind: 'info'; tfi: number; code: number; data: Uint8Array };

export interface Pn532Counters {
  frames: number;
  badLengthChecksum: number;
  badDataChecksum: number;
  garbageBytes: number;
}

/** Streaming decoder: finds `00 FF` start codes, checks LCS/DCS, counts and drops bad frames. */
export class Pn532FrameDecoder {
  private buf: number[] = [];
  readonly counters: Pn532Counters = { frames: 0, badLengthChecksum: 0, badDataChecksum: 0, garbageBytes: 0 };

  push(chunk: Uint8Array): Pn532Frame[] {
    for (const b of chunk) this.buf.push(b);
    const out: Pn532Frame[] = [];
    for (;;) {
      let start = -1;
      for (let i = 0; i + 1 < this.buf.length; i++) {
        if (this.buf[i] === 0x00 && this.buf[i + 1] === 0xff) {
          start = i;
          break;
        }
      }
      if (start < 0) {
        // Keep a trailing 00 that may start a start code.
        const keep = this.buf.length > 0 && this.buf[this.buf.length - 1] === 0x00 ? 1 : 0;
        this.countGarbage(this.buf.slice(0, this.buf.length - keep));
        this.buf = this.buf.slice(this.buf.length - keep);
        break;
      }
      this.countGarbage(this.buf.slice(0, start));
      this.buf.splice(0, start);
      const r = this.tryFrame();
      if (r === 'wait') break;
      if (r === 'bad') {
        this.buf.splice(0, 2);
        continue;
      }
      this.buf.splice(0, r.length);
      this.counters.frames++;
      out.push(r.frame);
    }
    return out;
  }

  // Preamble and postamble zeros are not counted as garbage.
  private countGarbage(bytes: number[]): void {
    for (const b of bytes) if (b !== 0x00) this.counters.garbageBytes++;
  }

  private tryFrame(): 'wait' | 'bad' | { frame: Pn532Frame; length: number } {
    const b = this.buf; // b[0..1] = 00 FF
    if (b.length < 4) return 'wait';
    if (b[2] === 0x00 && b[3] === 0xff) return { frame: { kind: 'ack' }, length: 4 };
    if (b[2] === 0xff && b[3] === 0x00) return { frame: { kind: 'nack' }, length: 4 };
    let len: number;
    let off: number;
    if (b[2] === 0xff && b[3] === 0xff) {
      if (b.length < 7) return 'wait';
      len = (b[4]! << 8) | b[5]!;
      if (((b[4]! + b[5]! + b[6]!) & 0xff) !== 0) {
        this.counters.badLengthChecksum++;
        return 'bad';
      }
      off = 7;
    } else {
      len = b[2]!;
      if (((b[2]! + b[3]!) & 0xff) !== 0) {
        this.counters.badLengthChecksum++;
        return 'bad';
      }
      off = 4;
    }
    if (len === 0) {
      this.counters.badLengthChecksum++;
      return 'bad';
    }
    if (b.length < off + len + 1) return 'wait';
    let sum = 0;
    for (let i = off; i <= off + len; i++) sum += b[i]!;
    if ((sum & 0xff) !== 0) {
      this.counters.badDataChecksum++;
      return 'bad';
    }
    const tfi = b[off]!;
    const length = off + len + 1;
    if (len === 1 && tfi === 0x7f) return { frame: { kind: 'error' }, length };
    const code = len >= 2 ? b[off + 1]! : -1;
    return { frame: { kind: 'info', tfi, code, data: Uint8Array.from(b.slice(off + 2, off + len)) }, length };
  }
}

/** GetFirmwareVersion response data: IC, Ver, Rev, Support. */
export function decodeFirmwareVersion(data: Uint8Array): { ic: number; version: string; support: number } {
  if (data.length < 4) throw new RangeError('GetFirmwareVersion response is 4 bytes');
  return { ic: data[0]!, version: `${data[1]}.${data[2]}`, support: data[3]! };
}

/** SAMConfiguration normal mode, timeout 0x14 (1 s), use IRQ (the libnfc default). */
export function samConfigurationNormal(): Uint8Array {
  return encodePn532Command(Pn532Cmd.SAMConfiguration, [0x01, 0x14, 0x01]);
}

/** InListPassiveTarget for one 106 kbps type A target. */
export function inListPassiveTargetTypeA(maxTargets = 1): Uint8Array {
  return encodePn532Command(Pn532Cmd.InListPassiveTarget, [maxTargets, 0x00]);
}

export interface Pn532TargetA {
  tg: number;
  sensRes: number;
  selRes: number;
  uid: Uint8Array;
  ats?: Uint8Array;
}

/**
 * Decodes an InListPassiveTarget (106 kbps type A) response: NbTg, then per target Tg,
 * SENS_RES(2), SEL_RES, NFCIDLength, NFCID, and an ATS when SEL_RES bit 6 says ISO 14443-4.
 */
export function decodeInListPassiveTargetA(data: Uint8Array): Pn532TargetA[] {
  const n = data[0] ?? 0;
  const out: Pn532TargetA[] = [];
  let i = 1;
  for (let t = 0; t < n; t++) {
    if (i + 5 > data.length) throw new RangeError('InListPassiveTarget response truncated');
    const tg = data[i]!;
    const sensRes = (data[i + 1]! << 8) | data[i + 2]!;
    const selRes = data[i + 3]!;
    const idLen = data[i + 4]!;
    i += 5;
    if (i + idLen > data.length) throw new RangeError('InListPassiveTarget NFCID truncated');
    const uid = data.slice(i, i + idLen);
    i += idLen;
    const target: Pn532TargetA = { tg, sensRes, selRes, uid };
    if (selRes & 0x20 && i < data.length) {
      const atsLen = data[i]!;
      target.ats = data.slice(i, i + atsLen);
      i += atsLen;
    }
    out.push(target);
  }
  return out;
}
