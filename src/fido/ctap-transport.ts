import type { Deadline } from '../util/deadline.ts';

/** CTAPHID keepalive status (CTAP 2.1 §11.2.9.1.5): 1 PROCESSING, 2 UPNEEDED. */
export type KeepaliveStatus = 'processing' | 'up-needed';

/** Options every exchange takes: one deadline budget, a cancel signal, keepalive reports. */
export interface ExchangeOptions {
  /** Aborting sends CTAPHID_CANCEL (HID) and rejects with `CancelledError`. */
  signal?: AbortSignal;
  /** The request's whole budget; defaults to the transport's default (30 s) when absent. */
  deadline?: Deadline;
  /** Called once per change of keepalive status (not once per keepalive frame). */
  onKeepalive?: (status: KeepaliveStatus) => void;
}

/**
 * The message seam (python-fido2's `CtapDevice.call`): CTAP over HID, over NFC (ISO 7816)
 * and over UDP all present this, so the FIDO client never knows which it has.
 * The recorder is a decorator around it; the replayer implements it.
 */
export interface CtapTransport {
  /** 'usb' (HID), 'nfc' (PC/SC), 'udp' (simulator / HIL rig), 'virtual' (in-process). */
  readonly kind: 'usb' | 'nfc' | 'udp' | 'virtual';
  /** Human-readable address, e.g. `/dev/hidraw3`, `udp://127.0.0.1:8111`, a reader name. */
  readonly descriptor: string;
  /** CTAPHID capability flags from INIT (HID/UDP); NFC reports CBOR | NMSG. */
  readonly capabilities: number;
  /**
   * One request/response. `cmd` is a CTAPHID command (`CtapHidCmd.CBOR`, `MSG`, `PING`, `WINK`);
   * for CBOR the payload is `commandByte ‖ cbor` and the reply is `status ‖ cbor`.
   */
  exchange(cmd: number, payload: Uint8Array, options?: ExchangeOptions): Promise<Uint8Array>;
  /** Releases the device (HID handle, card). Idempotent. */
  close(): Promise<void>;
}

/** Opens a transport for one transaction (HID devices are held only for a transaction). */
export type CtapTransportFactory = (signal?: AbortSignal) => Promise<CtapTransport>;
