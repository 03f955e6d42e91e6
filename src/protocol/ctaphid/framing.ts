/**
 * CTAPHID packet framing (CTAP 2.1 §11.2.4), pure. Frames here are the HID report
 * payload WITHOUT the report-ID byte: node-hid writes need a leading 0x00, which the
 * driver adds (fido.md §1).
 *
 *   init:         CID[4, BE] | CMD | 0x80 | BCNTH | BCNTL | DATA[s − 7]
 *   continuation: CID[4, BE] | SEQ (0x00…0x7F)  | DATA[s − 5]
 */
import { readU32BE, writeU32BE } from '../../util/bytes.ts';
import {
  CTAPHID_CONT_HEADER,
  CTAPHID_INIT_HEADER,
  CTAPHID_MIN_REPORT_SIZE,
  CTAPHID_REPORT_SIZE,
  CtapHidErrorCode,
  ctapHidMaxMessage,
} from './constants.ts';
import { CtapHidFramingError } from './errors.ts';

/** A decoded init packet: `cmd` without bit 7, `data` the whole data area (incl. padding). */
export interface CtapHidInitFrame {
  type: 'init';
  cid: number;
  cmd: number;
  bcnt: number;
  data: Uint8Array;
}

/** A decoded continuation packet. */
export interface CtapHidContFrame {
  type: 'cont';
  cid: number;
  seq: number;
  data: Uint8Array;
}

export type CtapHidFrame = CtapHidInitFrame | CtapHidContFrame;

/**
 * Splits `payload` into zero-padded reports of `reportSize` bytes (default 64): one init
 * packet, then continuation packets with SEQ 0, 1, … An empty payload gives one init
 * packet with BCNT 0. Throws `CtapHidFramingError` CTAPHID_MESSAGE_TOO_LARGE beyond
 * `ctapHidMaxMessage(reportSize)` (7609 for 64-byte reports).
 */
export function encodeFrames(cid: number, cmd: number, payload: Uint8Array, reportSize: number = CTAPHID_REPORT_SIZE): Uint8Array[] {
  const max = ctapHidMaxMessage(reportSize);
  if (payload.length > max) {
    throw new CtapHidFramingError('CTAPHID_MESSAGE_TOO_LARGE', `message of ${payload.length} bytes exceeds the CTAPHID maximum of ${max} bytes for ${reportSize}-byte reports (CTAP 2.1 §11.2.4)`, {
      hidError: CtapHidErrorCode.INVALID_LEN,
      cid,
      length: payload.length,
      max,
    });
  }
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError(`CTAPHID command 0x${cmd.toString(16)} is not 7-bit`);
  const frames: Uint8Array[] = [];
  const init = new Uint8Array(reportSize);
  writeU32BE(init, 0, cid >>> 0);
  init[4] = 0x80 | cmd;
  init[5] = (payload.length >> 8) & 0xff;
  init[6] = payload.length & 0xff;
  let off = Math.min(payload.length, reportSize - CTAPHID_INIT_HEADER);
  init.set(payload.subarray(0, off), CTAPHID_INIT_HEADER);
  frames.push(init);
  for (let seq = 0; off < payload.length; seq++) {
    const cont = new Uint8Array(reportSize);
    writeU32BE(cont, 0, cid >>> 0);
    cont[4] = seq;
    const n = Math.min(payload.length - off, reportSize - CTAPHID_CONT_HEADER);
    cont.set(payload.subarray(off, off + n), CTAPHID_CONT_HEADER);
    off += n;
    frames.push(cont);
  }
  return frames;
}

/**
 * Decodes one report (no report-ID byte). Bit 7 of byte 4 tells init from continuation.
 * Throws `CtapHidFramingError` CTAPHID_INVALID_LENGTH for reports shorter than 8 bytes.
 * `data` is a view into `report`.
 */
export function parseFrame(report: Uint8Array): CtapHidFrame {
  if (report.length < CTAPHID_MIN_REPORT_SIZE) {
    throw new CtapHidFramingError('CTAPHID_INVALID_LENGTH', `HID report of ${report.length} bytes is too short for a CTAPHID packet (minimum ${CTAPHID_MIN_REPORT_SIZE})`, {
      hidError: CtapHidErrorCode.INVALID_LEN,
      length: report.length,
    });
  }
  const cid = readU32BE(report, 0);
  const b4 = report[4]!;
  if (b4 & 0x80) {
    return { type: 'init', cid, cmd: b4 & 0x7f, bcnt: (report[5]! << 8) | report[6]!, data: report.subarray(CTAPHID_INIT_HEADER) };
  }
  return { type: 'cont', cid, seq: b4, data: report.subarray(CTAPHID_CONT_HEADER) };
}
