import type { Deadline } from '../../util/deadline.ts';

/** Options every APDU exchange takes: a cancel signal and the request's deadline budget. */
export interface TransmitOptions {
  signal?: AbortSignal;
  deadline?: Deadline;
}

/**
 * The APDU seam (DESIGN.md §1): a card connection over PC/SC, or an in-process virtual card.
 * `transmit` sends one encoded C-APDU and returns the raw R-APDU (`data ‖ SW1 SW2`); it does
 * not follow 61XX itself (callers use `followUp`).
 */
export interface ApduTransport {
  /** Reader name (PC/SC) or another human-readable address. */
  readonly descriptor: string;
  transmit(apdu: Uint8Array, options?: TransmitOptions): Promise<Uint8Array>;
  /** Releases the card (PC/SC: disconnect with LEAVE_CARD). Idempotent. */
  close(): Promise<void>;
}
