/**
 * Lists FIDO HID interfaces (usage page 0xF1D0, usage 1; CTAP 2.1 §11.2.8.1) via node-hid.
 * The hidraw backend reports the top-level usage page; where it is missing (libusb backend),
 * the report descriptor is read from sysfs and parsed.
 */
import HID from 'node-hid';
import type { HidDeviceInfo } from '../hid-connection.ts';
import { DeviceOpenError } from '../../protocol/transport-errors.ts';
import { FIDO_USAGE_CTAPHID, FIDO_USAGE_PAGE, isFidoDescriptor, parseReportDescriptor } from './report-descriptor.ts';
import { readReportDescriptor } from './sysfs-descriptor.ts';

/** Enumerates FIDO HID devices present now, sorted by path. */
export async function listFidoHidDevices(): Promise<HidDeviceInfo[]> {
  let raw: Awaited<ReturnType<typeof HID.devicesAsync>>;
  try {
    raw = await HID.devicesAsync();
  } catch (e) {
    throw new DeviceOpenError('HID enumeration failed (is libusb-1.0 installed?)', { cause: e });
  }
  const out: HidDeviceInfo[] = [];
  for (const d of raw) {
    if (!d.path) continue;
    let usagePage = d.usagePage;
    let usage = d.usage;
    if (usagePage === undefined) {
      const summary = parseReportDescriptor((await readReportDescriptor(d.path)) ?? new Uint8Array());
      if (!isFidoDescriptor(summary)) continue;
      usagePage = summary.usagePage;
      usage = summary.usage;
    }
    if (usagePage !== FIDO_USAGE_PAGE || usage !== FIDO_USAGE_CTAPHID) continue;
    out.push({
      path: d.path,
      vendorId: d.vendorId,
      productId: d.productId,
      ...(d.manufacturer ? { manufacturer: d.manufacturer } : {}),
      ...(d.product ? { product: d.product } : {}),
      ...(d.serialNumber ? { serialNumber: d.serialNumber } : {}),
      usagePage,
      usage: usage ?? FIDO_USAGE_CTAPHID,
    });
  }
  // hidapi lists one entry per top-level collection; a key with several shows once per path.
  const seen = new Set<string>();
  return out.filter((d) => (seen.has(d.path) ? false : (seen.add(d.path), true))).sort((a, b) => a.path.localeCompare(b.path));
}
