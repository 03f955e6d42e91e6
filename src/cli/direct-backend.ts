/**
 * Direct mode: the CLI opens the key itself (node-hid or `udp://`), one transaction per call,
 * so it coexists with browsers and ssh using the same key. Not for use while `keytap serve`
 * owns the key (the agent queues requests; two owners would interleave).
 */
import type { CliBackend, CliCallOptions, CliDevice } from './backend.ts';
import { FidoClient, type FidoClientOptions } from '../fido/fido-client.ts';
import { openFidoDevice, resolveFidoDevice } from '../fido/open-device.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import { guidedReset } from '../fido/reset-guide.ts';
import type { HidDeviceInfo } from '../drivers/hid-connection.ts';
import type { AuthenticatorInfo } from '../protocol/ctap2/get-info.ts';
import type { Pin } from '../protocol/secret.ts';
import { toHex } from '../util/bytes.ts';

/** Options of `DirectBackend`. */
export interface DirectBackendOptions {
  /** Passed to every `FidoClient` (local PIN policy). */
  client?: FidoClientOptions;
  /** Enumerator (tests). Default node-hid. */
  enumerate?: () => Promise<HidDeviceInfo[]>;
}

/** getInfo as JSON: bytes → hex, the `unknown` map → entries. */
export function infoToJson(info: AuthenticatorInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    if (k === 'unknown') {
      if (v instanceof Map && v.size > 0) out.unknown = [...v.entries()].map(([a, b]) => [String(a), b instanceof Uint8Array ? toHex(b) : String(b)]);
    } else if (v instanceof Uint8Array) out[k] = toHex(v);
    else out[k] = v;
  }
  return out;
}

export class DirectBackend implements CliBackend {
  readonly #opts: DirectBackendOptions;

  constructor(options: DirectBackendOptions = {}) {
    this.#opts = options;
  }

  async listDevices(): Promise<CliDevice[]> {
    // node-hid is loaded only when needed: without libusb it cannot load, and UDP keys must still work.
    const enumerate = this.#opts.enumerate ?? (await import('../drivers/hid/hid-enumerator.ts')).listFidoHidDevices;
    return (await enumerate()).map((d) => ({ transport: 'usb' as const, ...d }));
  }

  async #with<R>(device: string | undefined, o: CliCallOptions, fn: (c: FidoClient) => Promise<R>): Promise<R> {
    const t = await openFidoDevice(device, { ...(o.signal ? { signal: o.signal } : {}), ...(this.#opts.enumerate ? { enumerate: this.#opts.enumerate } : {}) });
    try {
      return await fn(new FidoClient(t, this.#opts.client));
    } finally {
      await t.close();
    }
  }

  info(device: string | undefined, o: CliCallOptions = {}): Promise<Record<string, unknown>> {
    return this.#with(device, o, async (c) => infoToJson(await c.getInfo(o)));
  }

  pinStatus(device: string | undefined, o: CliCallOptions = {}): Promise<PinStatus> {
    return this.#with(device, o, (c) => c.pinStatus(o));
  }

  setPin(device: string | undefined, newPin: Pin, o: CliCallOptions = {}): Promise<PinStatus> {
    return this.#with(device, o, (c) => c.setPin(newPin, o));
  }

  changePin(device: string | undefined, current: Pin, next: Pin, o: CliCallOptions & { confirmLastAttempt?: boolean } = {}): Promise<PinStatus> {
    return this.#with(device, o, (c) => c.changePin(current, next, o));
  }

  verifyPin(device: string | undefined, pin: Pin, o: CliCallOptions & { confirmLastAttempt?: boolean } = {}): Promise<PinStatus> {
    return this.#with(device, o, (c) => c.verifyPin(pin, o));
  }

  async reset(device: string | undefined, o: CliCallOptions & { guided?: boolean } = {}): Promise<PinStatus> {
    const dev = await resolveFidoDevice(device, this.#opts.enumerate ? { enumerate: this.#opts.enumerate } : {});
    // A UDP simulator cannot be re-inserted by hand: reset it directly (power-cycle it first).
    if (dev.transport === 'udp' || o.guided === false) return this.#with(dev.path, o, (c) => c.reset(o));
    const { HidDeviceSource } = await import('../drivers/hid/hid-device-source.ts');
    const source = new HidDeviceSource(this.#opts.enumerate ? { enumerate: this.#opts.enumerate } : {});
    try {
      const info: HidDeviceInfo = {
        path: dev.path,
        vendorId: dev.vendorId ?? 0,
        productId: dev.productId ?? 0,
        usagePage: 0xf1d0,
        usage: 1,
        ...(dev.serialNumber !== undefined ? { serialNumber: dev.serialNumber } : {}),
      };
      return await guidedReset<HidDeviceInfo>({
        device: info,
        source,
        // The hidraw path usually changes on re-insertion: match by USB identity instead.
        matches: (a, b) => a.vendorId === b.vendorId && a.productId === b.productId && (a.serialNumber ?? '') === (b.serialNumber ?? ''),
        open: async (d, signal) => {
          const t = await openFidoDevice(d.path, { ...(signal ? { signal } : {}), ...(this.#opts.enumerate ? { enumerate: this.#opts.enumerate } : {}) });
          return new FidoClient(t, this.#opts.client);
        },
        ...o,
      });
    } finally {
      await source.close();
    }
  }

  async close(): Promise<void> {}
}

