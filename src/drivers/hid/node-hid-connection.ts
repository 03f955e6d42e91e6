/**
 * `HidConnection` over node-hid's `HIDAsync` (hidapi 0.15, hidraw backend on Linux).
 *
 * - Writes prepend the report-ID byte 0x00 (hidapi needs it for devices without report IDs,
 *   fido.md §1), so a 64-byte frame goes out as 65 bytes.
 * - Reads return the input report without an ID byte, padded to `inputReportSize`.
 * - Report sizes come from the report descriptor where the OS exposes it (Linux sysfs), else 64.
 * - Open it for one transaction and close it right after (coexistence with libfido2 users,
 *   DESIGN.md §3); the optional `DeviceLock` is held from open to close.
 */
import HID from 'node-hid';
import type { HidConnection } from '../hid-connection.ts';
import { CancelledError, DeviceOpenError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { throwIfAborted } from '../../util/deadline.ts';
import { noopDeviceLock, type DeviceLock, type DeviceLockHandle } from './device-lock.ts';
import { readReportDescriptor } from './sysfs-descriptor.ts';
import { isFidoDescriptor, parseReportDescriptor } from './report-descriptor.ts';

/** CTAPHID's report size when the descriptor cannot be read (CTAP 2.1 §11.2.4). */
export const DEFAULT_REPORT_SIZE = 64;
/** Longest single native read: bounds how late an abort is noticed. */
const READ_SLICE_MS = 100;

type NativeDevice = Awaited<ReturnType<typeof HID.HIDAsync.open>>;

/** Options for `NodeHidConnection.open`. */
export interface NodeHidOpenOptions {
  signal?: AbortSignal;
  /** Advisory lock held for the connection's life. Default: `noopDeviceLock` (Node has no flock). */
  lock?: DeviceLock;
  /** Report sizes, when the caller already knows them (skips reading the descriptor). */
  reportSizes?: { input: number; output: number };
}

export class NodeHidConnection implements HidConnection {
  readonly inputReportSize: number;
  readonly outputReportSize: number;
  #dev: NativeDevice;
  #lock: DeviceLockHandle;
  #closed = false;
  /** A native read still in flight after an abort; the next read() takes its result first. */
  #pending: Promise<Buffer | undefined> | null = null;

  private constructor(readonly path: string, dev: NativeDevice, lock: DeviceLockHandle, input: number, output: number) {
    this.#dev = dev;
    this.#lock = lock;
    this.inputReportSize = input;
    this.outputReportSize = output;
  }

  /** Opens the device at `path` (e.g. `/dev/hidraw3`). Rejects with `DeviceOpenError` / `DeviceRemovedError`. */
  static async open(path: string, options: NodeHidOpenOptions = {}): Promise<NodeHidConnection> {
    throwIfAborted(options.signal, 'HID open');
    let sizes = options.reportSizes;
    if (!sizes) {
      const summary = parseReportDescriptor((await readReportDescriptor(path)) ?? new Uint8Array());
      sizes = isFidoDescriptor(summary)
        ? { input: summary.inputReportSize, output: summary.outputReportSize }
        : { input: DEFAULT_REPORT_SIZE, output: DEFAULT_REPORT_SIZE };
    }
    const lock = await (options.lock ?? noopDeviceLock).acquire(path, options.signal);
    let dev: NativeDevice;
    try {
      dev = await HID.HIDAsync.open(path);
    } catch (e) {
      await lock.release();
      const msg = e instanceof Error ? e.message : String(e);
      if (/not found|No such|No HID devices/i.test(msg)) throw new DeviceRemovedError(`HID device ${path} is not present`, { cause: e });
      throw new DeviceOpenError(
        `cannot open HID device ${path}${/ermission|EACCES/i.test(msg) ? ' (permission denied: install keytap\'s udev rule or add the user to the keytap group)' : ''}`,
        { cause: e, details: { path } },
      );
    }
    return new NodeHidConnection(path, dev, lock, sizes.input, sizes.output);
  }

  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#checkOpen();
    throwIfAborted(signal, 'HID write');
    if (report.length !== this.outputReportSize) {
      throw new RangeError(`HID write needs exactly ${this.outputReportSize} bytes, got ${report.length}`);
    }
    const out = Buffer.alloc(report.length + 1);
    out[0] = 0x00; // report ID: FIDO interfaces have none, hidapi wants the byte anyway
    out.set(report, 1);
    let n: number;
    try {
      n = await this.#dev.write(out);
    } catch (e) {
      throw new DeviceRemovedError(`write to ${this.path} failed: the key was removed?`, { cause: e });
    }
    if (n < 0) throw new DeviceRemovedError(`write to ${this.path} failed`);
  }

  async read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    this.#checkOpen();
    const end = Date.now() + timeoutMs;
    for (;;) {
      throwIfAborted(signal, 'HID read');
      const left = end - Date.now();
      if (left <= 0 && this.#pending === null) throw new TimeoutError(`no HID report from ${this.path} within ${timeoutMs} ms`);
      if (this.#pending === null) this.#pending = this.#dev.read(Math.max(1, Math.min(left, READ_SLICE_MS)));
      let data: Buffer | undefined;
      try {
        data = await raceAbort(this.#pending, signal);
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        this.#pending = null;
        throw new DeviceRemovedError(`read from ${this.path} failed: the key was removed?`, { cause: e });
      }
      this.#pending = null;
      if (data && data.length > 0) {
        const r = new Uint8Array(this.inputReportSize);
        r.set(data.subarray(0, this.inputReportSize));
        return r;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pending?.catch(() => undefined);
      await this.#dev.close();
    } catch {
      // closing a removed device fails; nothing left to release
    } finally {
      await this.#lock.release();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new DeviceRemovedError(`HID connection to ${this.path} is closed`);
  }
}

function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError('HID read was cancelled', { cause: signal.reason }));
    const onAbort = (): void => reject(new CancelledError('HID read was cancelled', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
