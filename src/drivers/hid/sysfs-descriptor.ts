/**
 * Reads a hidraw node's report descriptor from sysfs
 * (`/sys/class/hidraw/hidrawN/device/report_descriptor`), which node-hid does not expose.
 * Returns null where there is none (not Linux, not a hidraw path, no permission).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

export async function readReportDescriptor(path: string): Promise<Uint8Array | null> {
  const m = /^\/dev\/(hidraw\d+)$/.exec(path);
  if (!m) return null;
  try {
    return new Uint8Array(await readFile(`/sys/class/hidraw/${basename(m[1]!)}/device/report_descriptor`));
  } catch {
    return null;
  }
}
