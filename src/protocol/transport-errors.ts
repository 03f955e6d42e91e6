/**
 * Errors of the I/O seam, shared by drivers, the FIDO client, readers and the simulator.
 * Pure classes (no I/O): they live under protocol so every layer may import them.
 */
import { KeytapError } from './errors.ts';

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** The request ran out of its deadline budget. */
export class TimeoutError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('TIMEOUT', message, options);
  }
}

/** The caller aborted (AbortSignal, `$/cancelRequest`, connection closed). */
export class CancelledError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('CANCELLED', message, options);
  }
}

/** The device went away during or before the request (unplugged, card removed, port gone). */
export class DeviceRemovedError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('DEVICE_REMOVED', message, options);
  }
}

/** The device is in use by someone else (CHANNEL_BUSY past the deadline, flock held, queue full). */
export class DeviceBusyError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('DEVICE_BUSY', message, options);
  }
}

/** The device could not be opened (permissions, absent node, pcscd down). */
export class DeviceOpenError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('DEVICE_OPEN_FAILED', message, options);
  }
}

/** The device answered something that breaks the protocol (bad frame, wrong length, bad CBOR). */
export class ProtocolError extends KeytapError {
  constructor(message: string, options?: Opts & { code?: string }) {
    super(options?.code ?? 'PROTOCOL_ERROR', message, options);
  }
}
