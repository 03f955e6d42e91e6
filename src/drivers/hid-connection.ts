/**
 * The raw-I/O seam for HID-framed devices (libfido2's `fido_dev_io_t`): node-hid, the UDP
 * transport, an in-memory pair to the virtual authenticator, and test mocks implement it.
 * Reports are the 64-byte frames without the report-ID byte; a driver that needs the ID
 * byte (node-hid writes) adds it itself.
 */
export interface HidConnection {
  /** Input report size from the report descriptor (CTAPHID: 64). */
  readonly inputReportSize: number;
  /** Output report size from the report descriptor (CTAPHID: 64). */
  readonly outputReportSize: number;
  /** Writes one output report (exactly `outputReportSize` bytes, no report-ID byte). */
  write(report: Uint8Array, signal?: AbortSignal): Promise<void>;
  /**
   * Reads one input report. Rejects with `TimeoutError` after `timeoutMs`, `CancelledError`
   * on abort, `DeviceRemovedError` when the device went away.
   */
  read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** Releases the handle (and any advisory lock). Idempotent. */
  close(): Promise<void>;
}

/** What enumeration knows about a HID device before it is opened. */
export interface HidDeviceInfo {
  /** OS path (`/dev/hidraw3`) or, for UDP, `udp://host:port`. */
  path: string;
  vendorId: number;
  productId: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  /** 0xF1D0 for FIDO (CTAP 2.1 §11.2.8.1). */
  usagePage: number;
  usage: number;
}
