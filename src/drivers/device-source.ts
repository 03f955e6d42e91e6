/** Discovery seam: current devices first (`list`), then changes (`watch`). */
export type DeviceEvent<T> =
  | { type: 'attached'; device: T }
  | { type: 'detached'; device: T }
  | { type: 'changed'; device: T };

export interface DeviceSource<T> {
  /** The devices present now. */
  list(): Promise<T[]>;
  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (event: DeviceEvent<T>) => void): () => void;
  /** Stops watching and releases OS resources. Idempotent. */
  close(): Promise<void>;
}
