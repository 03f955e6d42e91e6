/**
 * vsmartcard vpcd wire protocol (reference/readers.md §4): every message in both directions is
 * `uint16 big-endian length ‖ payload`. A 1-byte payload is a control byte (00 power off,
 * 01 power on, 02 reset: no reply; 04 get ATR: reply with the ATR); anything longer is a
 * C-APDU, answered with the R-APDU. TCP splits and merges messages, hence the decoder.
 */
import { DecodeError } from '../errors.ts';

export const VpcdControl = { POWER_OFF: 0x00, POWER_ON: 0x01, RESET: 0x02, GET_ATR: 0x04 } as const;

export type VpcdMessage =
  | { kind: 'power-off' }
  | { kind: 'power-on' }
  | { kind: 'reset' }
  | { kind: 'get-atr' }
  | { kind: 'control'; byte: number }
  | { kind: 'apdu'; apdu: Uint8Array };

/** Frames one payload. Throws `RangeError` above 65535 bytes. */
export function encodeVpcdFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`vpcd payload too long (${payload.length})`);
  const out = new Uint8Array(payload.length + 2);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/** Names a received payload. */
export function classifyVpcdMessage(payload: Uint8Array): VpcdMessage {
  if (payload.length === 0) throw new DecodeError('empty vpcd message', { code: 'VPCD_MALFORMED' });
  if (payload.length === 1) {
    switch (payload[0]) {
      case VpcdControl.POWER_OFF:
        return { kind: 'power-off' };
      case VpcdControl.POWER_ON:
        return { kind: 'power-on' };
      case VpcdControl.RESET:
        return { kind: 'reset' };
      case VpcdControl.GET_ATR:
        return { kind: 'get-atr' };
      default:
        return { kind: 'control', byte: payload[0]! };
    }
  }
  return { kind: 'apdu', apdu: payload };
}

/** Reassembles length-prefixed messages from arbitrary TCP chunks. */
export class VpcdFrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  /** Appends `chunk` and returns every complete payload, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let off = 0;
    while (merged.length - off >= 2) {
      const len = (merged[off]! << 8) | merged[off + 1]!;
      if (merged.length - off - 2 < len) break;
      out.push(merged.slice(off + 2, off + 2 + len));
      off += 2 + len;
    }
    this.buf = merged.slice(off);
    return out;
  }

  /** Bytes buffered towards an incomplete message. */
  get buffered(): number {
    return this.buf.length;
  }
}
