/**
 * node-hid access for HID badge readers (readers.md §9, §10): enumeration and an opened device
 * with feature reports (pcProx) and input reports (keyboard wedge). Tests mock `node-hid` at
 * this boundary (no /dev/hidraw or /dev/uhid on the build machine).
 */
import HID from 'node-hid';
import { DeviceOpenError } from '../../protocol/transport-errors.ts';

export interface HidReaderInfo {
  path: string;
  vendorId: number;
  productId: number;
  serialNumber?: string;
  product?: string;
  manufacturer?: string;
  interface: number;
}

/** An opened HID reader. */
export interface HidReaderHandle {
  sendFeatureReport(data: number[]): Promise<number>;
  getFeatureReport(reportId: number, length: number): Promise<Uint8Array>;
  /** Input reports (keyboard wedge); returns the unsubscribe function. */
  onReport(listener: (report: Uint8Array) => void, onError: (e: Error) => void): () => void;
  close(): Promise<void>;
}

/** Lists HID interfaces, optionally filtered by VID/PID. */
export async function listHidReaders(vendorId?: number, productId?: number): Promise<HidReaderInfo[]> {
  const raw = vendorId !== undefined && productId !== undefined ? await HID.devicesAsync(vendorId, productId) : await HID.devicesAsync();
  return raw
    .filter((d) => typeof d.path === 'string')
    .map((d) => ({
      path: d.path!,
      vendorId: d.vendorId,
      productId: d.productId,
      serialNumber: d.serialNumber || undefined,
      product: d.product || undefined,
      manufacturer: d.manufacturer || undefined,
      interface: d.interface,
    }));
}

/** Opens the interface at `path`. Throws `DeviceOpenError` (permissions: see docs/readers.md udev). */
export async function openHidReader(path: string): Promise<HidReaderHandle> {
  let dev: Awaited<ReturnType<typeof HID.HIDAsync.open>>;
  try {
    dev = await HID.HIDAsync.open(path);
  } catch (e) {
    throw new DeviceOpenError(`cannot open HID reader ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return {
    sendFeatureReport: (data) => dev.sendFeatureReport(data),
    async getFeatureReport(id, len) {
      const b = await dev.getFeatureReport(id, len);
      return new Uint8Array(b);
    },
    onReport(listener, onError) {
      const onData = (b: Buffer): void => listener(new Uint8Array(b));
      dev.on('data', onData);
      dev.on('error', onError);
      return () => {
        dev.off('data', onData);
        dev.off('error', onError);
      };
    },
    close: () => dev.close(),
  };
}
