/**
 * Hotplug for FIDO HID keys by polling (libfido2 has no hotplug API either; fido.md §13):
 * re-enumerate every `intervalMs` and diff by path + serial number.
 */
import type { DeviceEvent, DeviceSource } from '../device-source.ts';
import type { HidDeviceInfo } from '../hid-connection.ts';
import { listFidoHidDevices } from './hid-enumerator.ts';

/** Options for `HidDeviceSource`. */
export interface HidDeviceSourceOptions {
  /** Poll interval. Default 500 ms (ykman polls every 0.5 s while waiting for re-insertion). */
  intervalMs?: number;
  /** Enumerator; default `listFidoHidDevices` (node-hid). Tests and the UDP source inject their own. */
  enumerate?: () => Promise<HidDeviceInfo[]>;
  /** Called when a poll fails (the source keeps polling). */
  onError?: (error: unknown) => void;
}

/** Stable identity across polls: a path reused by another key is a detach + attach. */
export function hidDeviceKey(d: HidDeviceInfo): string {
  return `${d.path}\u0000${d.serialNumber ?? ''}`;
}

/**
 * `DeviceSource<HidDeviceInfo>`. `watch` first reports every device present now as `attached`
 * (current devices first), then changes found by later polls.
 */
export class HidDeviceSource implements DeviceSource<HidDeviceInfo> {
  readonly #interval: number;
  readonly #enumerate: () => Promise<HidDeviceInfo[]>;
  readonly #onError: ((e: unknown) => void) | undefined;
  readonly #listeners = new Set<(e: DeviceEvent<HidDeviceInfo>) => void>();
  #known: Map<string, HidDeviceInfo> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  #closed = false;

  constructor(options: HidDeviceSourceOptions = {}) {
    this.#interval = options.intervalMs ?? 500;
    this.#enumerate = options.enumerate ?? listFidoHidDevices;
    this.#onError = options.onError;
  }

  list(): Promise<HidDeviceInfo[]> {
    return this.#enumerate();
  }

  watch(listener: (event: DeviceEvent<HidDeviceInfo>) => void): () => void {
    if (this.#closed) return () => {};
    this.#listeners.add(listener);
    if (this.#known !== null) {
      for (const d of this.#known.values()) queueMicrotask(() => this.#listeners.has(listener) && listener({ type: 'attached', device: d }));
    }
    if (this.#timer === null) {
      void this.poll();
      this.#timer = setInterval(() => void this.poll(), this.#interval);
      this.#timer.unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
        this.#known = null;
      }
    };
  }

  /** One poll (exposed for tests and for callers that want an immediate re-scan). */
  async poll(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      const now = new Map((await this.#enumerate()).map((d) => [hidDeviceKey(d), d] as const));
      const before = this.#known ?? new Map<string, HidDeviceInfo>();
      const events: DeviceEvent<HidDeviceInfo>[] = [];
      for (const [k, d] of before) if (!now.has(k)) events.push({ type: 'detached', device: d });
      for (const [k, d] of now) {
        const old = before.get(k);
        if (!old) events.push({ type: 'attached', device: d });
        else if (old.product !== d.product || old.manufacturer !== d.manufacturer) events.push({ type: 'changed', device: d });
      }
      if (this.#closed || this.#listeners.size === 0) return;
      this.#known = now;
      for (const e of events) for (const l of [...this.#listeners]) l(e);
    } catch (e) {
      this.#onError?.(e);
    } finally {
      this.#polling = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
