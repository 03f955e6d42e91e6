/**
 * What the FIDO CLI commands (`keytap devices|info|pin|reset`) call. Direct mode
 * (`direct-backend.ts`) opens the key itself; an agent-backed implementation can talk to a
 * running `keytap serve` instead, with the same results and error codes.
 */
import type { Pin } from '../protocol/secret.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import type { Progress } from '../fido/fido-client.ts';

/** One security key as listed. */
export interface CliDevice {
  /** What `--device` accepts: a HID path or `udp://HOST:PORT`. */
  path: string;
  transport: 'usb' | 'udp' | 'nfc' | 'virtual';
  vendorId?: number;
  productId?: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
}

/** Options of every backend call. */
export interface CliCallOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface CliBackend {
  /** Security keys present now. */
  listDevices(o?: CliCallOptions): Promise<CliDevice[]>;
  /** getInfo as JSON-friendly values (bytes in hex). `device`: a selector, or undefined for the only key. */
  info(device: string | undefined, o?: CliCallOptions): Promise<Record<string, unknown>>;
  pinStatus(device: string | undefined, o?: CliCallOptions): Promise<PinStatus>;
  setPin(device: string | undefined, newPin: Pin, o?: CliCallOptions): Promise<PinStatus>;
  changePin(device: string | undefined, current: Pin, next: Pin, o?: CliCallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus>;
  verifyPin(device: string | undefined, pin: Pin, o?: CliCallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus>;
  /** `guided` (default true for USB keys): ask to re-insert the key and reset right after. */
  reset(device: string | undefined, o?: CliCallOptions & { guided?: boolean }): Promise<PinStatus>;
  close(): Promise<void>;
}

/**
 * Exit codes of the FIDO commands (documented in docs/pin-management.md). 64 is a usage error
 * (yargs), as for every keytap command.
 */
export const FidoExitCode = {
  OK: 0,
  OTHER: 1,
  PIN_INVALID: 2,
  PIN_SOFT_BLOCKED: 3,
  PIN_BLOCKED: 4,
  PIN_POLICY_VIOLATION: 5,
  NO_DEVICE: 6,
  CONFIRMATION_REQUIRED: 7,
  USAGE: 64,
} as const;

/** The exit code for an error's stable code. */
export function exitCodeFor(code: string | undefined): number {
  switch (code) {
    case 'PIN_INVALID':
      return FidoExitCode.PIN_INVALID;
    case 'PIN_SOFT_BLOCKED':
      return FidoExitCode.PIN_SOFT_BLOCKED;
    case 'PIN_BLOCKED':
      return FidoExitCode.PIN_BLOCKED;
    case 'PIN_POLICY_VIOLATION':
      return FidoExitCode.PIN_POLICY_VIOLATION;
    case 'DEVICE_NOT_FOUND':
    case 'DEVICE_REMOVED':
    case 'DEVICE_OPEN_FAILED':
    case 'DEVICE_AMBIGUOUS':
      return FidoExitCode.NO_DEVICE;
    case 'CONFIRMATION_REQUIRED':
      return FidoExitCode.CONFIRMATION_REQUIRED;
    case 'CLI_USAGE':
      return FidoExitCode.USAGE;
    default:
      return FidoExitCode.OTHER;
  }
}
