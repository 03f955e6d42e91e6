/**
 * An in-memory HID device wrapping a `CtapHidDevice`: each `open()` gives a `HidConnection`
 * (the same seam node-hid and the UDP driver implement), so host code runs unchanged against
 * the virtual authenticator in-process (tests, the agent's `--simulate`).
 *
 * Like hidraw, every open handle receives every input report; channel ids keep hosts apart.
 */
import type { HidConnection, HidDeviceInfo } from '../drivers/hid-connection.ts';
import { CancelledError, DeviceRemovedError, TimeoutError } from '../protocol/transport-errors.ts';
import { CTAPHID_REPORT_SIZE } from '../protocol/ctaphid/constants.ts';
import { CtapHidDevice, type CborHandler, type CtapHidDeviceOptions } from './ctaphid-device.ts';
import type { DeviceProfile } from './profiles.ts';

/** Options of `VirtualHidDevice`. */
export interface VirtualHidDeviceOptions extends Omit<CtapHidDeviceOptions, 'send'> {
  /** Enumeration info; defaults to `virtual://keytap-sim`, VID 0x1209 / PID 0x000a (pid.codes test range). */
  info?: Partial<HidDeviceInfo>;
}

/** A virtual FIDO HID device: a CTAPHID state machine plus any number of open handles. */
export class VirtualHidDevice {
  readonly device: CtapHidDevice;
  readonly info: HidDeviceInfo;
  #connections = new Set<VirtualHidConnection>();
  #plugged = true;

  /**
   * @param handler usually a `VirtualAuthenticator`; when it carries a device profile, the INIT
   *   version, capabilities and keepalive period default to the profile's.
   */
  constructor(handler: CborHandler, options: VirtualHidDeviceOptions = {}) {
    const profile = (handler as Partial<{ profile: DeviceProfile }>).profile;
    const fromProfile: Omit<CtapHidDeviceOptions, 'send'> = profile
      ? { deviceVersion: profile.ctaphid.deviceVersion, capabilities: profile.ctaphid.capabilities, keepaliveIntervalMs: profile.behaviour.keepaliveIntervalMs }
      : {};
    this.device = new CtapHidDevice(handler, { ...fromProfile, ...options, send: (r) => this.#fanOut(r) });
    this.info = {
      path: 'virtual://keytap-sim',
      vendorId: 0x1209,
      productId: 0x000a,
      manufacturer: 'keytap',
      product: 'keytap virtual authenticator',
      usagePage: 0xf1d0,
      usage: 0x01,
      ...options.info,
    };
  }

  /** Whether the device is plugged in. */
  get plugged(): boolean {
    return this.#plugged;
  }

  /** Opens a handle. Throws `DeviceRemovedError` while unplugged. */
  open(): HidConnection {
    if (!this.#plugged) throw new DeviceRemovedError(`${this.info.path} is unplugged`);
    const c = new VirtualHidConnection(this, () => this.#connections.delete(c));
    this.#connections.add(c);
    return c;
  }

  /** Unplugs: open handles fail with `DeviceRemovedError`, channels are forgotten. */
  unplug(): void {
    this.#plugged = false;
    this.device.powerCycle();
    for (const c of [...this.#connections]) c.removed();
    this.#connections.clear();
  }

  /** Plugs back in (a power cycle of the CTAPHID layer; the caller power-cycles the authenticator). */
  plug(): void {
    this.#plugged = true;
  }

  /** @internal */
  write(report: Uint8Array): void {
    if (!this.#plugged) throw new DeviceRemovedError(`${this.info.path} is unplugged`);
    this.device.receive(report);
  }

  #fanOut(report: Uint8Array): void {
    for (const c of this.#connections) c.push(report);
  }
}

class VirtualHidConnection implements HidConnection {
  readonly inputReportSize = CTAPHID_REPORT_SIZE;
  readonly outputReportSize = CTAPHID_REPORT_SIZE;
  #queue: Uint8Array[] = [];
  #waiter: ((r: Uint8Array | Error) => void) | null = null;
  #closed = false;
  #removed = false;

  constructor(
    private readonly owner: VirtualHidDevice,
    private readonly onClose: () => void,
  ) {}

  push(report: Uint8Array): void {
    if (this.#closed) return;
    const copy = new Uint8Array(report);
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(copy);
    } else this.#queue.push(copy);
  }

  removed(): void {
    this.#removed = true;
    this.#waiter?.(new DeviceRemovedError(`${this.owner.info.path} was unplugged`));
    this.#waiter = null;
  }

  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CancelledError('HID write cancelled');
    if (this.#removed || this.#closed) throw new DeviceRemovedError(`${this.owner.info.path} is not open`);
    if (report.length !== this.outputReportSize) throw new RangeError(`output report must be ${this.outputReportSize} bytes, got ${report.length}`);
    // Asynchronous like a real write: the device sees the report on a later tick.
    await Promise.resolve();
    this.owner.write(report);
  }

  read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#removed || this.#closed) return Promise.reject(new DeviceRemovedError(`${this.owner.info.path} is not open`));
    if (signal?.aborted) return Promise.reject(new CancelledError('HID read cancelled'));
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#waiter) return Promise.reject(new Error('concurrent reads on one HID connection'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new TimeoutError(`no HID report within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => finish(new CancelledError('HID read cancelled'));
      const finish = (r: Uint8Array | Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this.#waiter === finish) this.#waiter = null;
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = finish;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter?.(new DeviceRemovedError('connection closed'));
    this.#waiter = null;
    this.#queue = [];
    this.onClose();
  }
}
