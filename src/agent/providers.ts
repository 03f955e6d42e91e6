/**
 * What the agent needs from device sources (DESIGN.md §1: the agent never imports concrete
 * drivers or the simulator; src/main.ts adapts them to these interfaces). Shapes match
 * `DeviceSource<T>` in src/drivers/device-source.ts, so an adapter is a thin map.
 */
import type { CtapTransport } from '../fido/ctap-transport.ts';

/** Discovery: current devices first (`list`), then changes (`watch`). */
export type ProviderEvent<T> = { type: 'attached'; device: T } | { type: 'detached'; device: T } | { type: 'changed'; device: T };

export interface DeviceProvider<T> {
  /** Provider name, part of each device's stable id (`hid`, `sim`, `pcsc`, ...). */
  readonly name: string;
  list(): Promise<T[]>;
  watch(listener: (event: ProviderEvent<T>) => void): () => void;
  close(): Promise<void>;
}

/** Facts shared by every device kind. */
export interface DeviceBase {
  /**
   * Stable identity within the provider (e.g. `vid:pid:serial` for HID, never a hidraw path;
   * a profile name and index for the simulator). The agent derives the public id from it.
   */
  key: string;
  name: string;
  /** `usb`, `nfc`, `udp`, `virtual`; readers: `pcsc`, `serial`, `hid`, `virtual`. */
  transport: string;
  simulated?: boolean;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  /** Extra public facts shown in `devices.list` (must be JSON-safe, no secrets). */
  extra?: Record<string, unknown>;
}

/** A FIDO authenticator the broker can open for one transaction at a time. */
export interface AuthenticatorDevice extends DeviceBase {
  kind: 'authenticator';
  /** Opens a transport for one transaction; the broker closes it afterwards. */
  open(signal?: AbortSignal): Promise<CtapTransport>;
}

/**
 * A badge reader (H5 fills this slot): it is listed as a device of kind `reader` and reports
 * cards through `watchCards`; the agent turns those into `card.present` / `card.removed`.
 */
export interface ReaderDevice extends DeviceBase {
  kind: 'reader';
}

/** A card event from a reader provider. `card.uid`/`atr` are hex. */
export interface CardEvent {
  type: 'card.present' | 'card.removed';
  /** The reader's `key` within its provider. */
  readerKey: string;
  card: { uid: string; atr?: string; type?: string; [key: string]: unknown };
}

export type AuthenticatorProvider = DeviceProvider<AuthenticatorDevice>;

export interface ReaderProvider extends DeviceProvider<ReaderDevice> {
  /** Subscribes to card events; returns the unsubscribe function. */
  watchCards(listener: (event: CardEvent) => void): () => void;
}
