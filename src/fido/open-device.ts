/**
 * Finds and opens a FIDO key by a selector a technician types: a HID path (`/dev/hidraw3`),
 * a USB serial number, or `udp://HOST:PORT` (simulator, HIL rig). Opens the transport for one
 * transaction; the caller closes it (coexistence: the device is held only that long).
 *
 * node-hid is loaded lazily: without libusb its native module fails to load, and UDP devices
 * (simulators) must still work then.
 */
import type { HidDeviceInfo } from '../drivers/hid-connection.ts';
import { UdpHidConnection, isUdpAddress } from '../drivers/udp/udp-hid-connection.ts';
import type { DeviceLock } from '../drivers/hid/device-lock.ts';
import type { Deadline } from '../util/deadline.ts';
import { CtapHidTransport } from './ctap-hid-transport.ts';
import { DeviceNotFoundError } from './errors.ts';
import { KeytapError } from '../protocol/errors.ts';
import { DeviceOpenError } from '../protocol/transport-errors.ts';

/** Loads a node-hid-backed module, turning a missing native library into a typed error. */
async function loadHid<M>(load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (e) {
    throw new DeviceOpenError('USB security keys are unavailable: node-hid could not load (install libusb-1.0-0)', { cause: e });
  }
}

/** Options of `openFidoDevice`. */
export interface OpenFidoDeviceOptions {
  signal?: AbortSignal;
  /** Budget for open + INIT. */
  deadline?: Deadline;
  /** Advisory lock for HID devices (default none: Node has no flock). */
  lock?: DeviceLock;
  /** Enumerator, for tests. Default node-hid. */
  enumerate?: () => Promise<HidDeviceInfo[]>;
}

/** A description of a device for listings. */
export interface FidoDeviceDescription {
  path: string;
  transport: 'usb' | 'udp';
  vendorId?: number;
  productId?: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
}

/**
 * Resolves `selector` to one device. No selector: the only FIDO key present (several → an
 * error listing them, so a technician picks one with --device).
 */
export async function resolveFidoDevice(selector: string | undefined, options: Pick<OpenFidoDeviceOptions, 'enumerate'> = {}): Promise<FidoDeviceDescription> {
  if (selector && isUdpAddress(selector)) return { path: selector, transport: 'udp' };
  const list = await (options.enumerate ?? (await loadHid(() => import('../drivers/hid/hid-enumerator.ts'))).listFidoHidDevices)();
  const describe = (d: HidDeviceInfo): FidoDeviceDescription => ({ transport: 'usb', ...d });
  if (!selector) {
    if (list.length === 1) return describe(list[0]!);
    if (list.length === 0) throw new DeviceNotFoundError('no FIDO security key found: plug one in (or name a simulator with --device udp://HOST:PORT)');
    throw new KeytapError('DEVICE_AMBIGUOUS', `${list.length} FIDO keys are plugged in: pick one with --device (${list.map((d) => d.serialNumber ?? d.path).join(', ')})`, {
      details: { devices: list.map((d) => d.path) },
    });
  }
  const hit = list.find((d) => d.path === selector) ?? list.find((d) => d.serialNumber !== undefined && d.serialNumber === selector);
  if (hit) return describe(hit);
  if (selector.startsWith('/dev/')) return { path: selector, transport: 'usb' }; // not enumerated (permissions?): try to open it anyway
  throw new DeviceNotFoundError(`no FIDO key matches "${selector}" (give a HID path, a serial number or udp://HOST:PORT)`);
}

/** Opens a CTAPHID transport (INIT done) to `selector`. */
export async function openFidoDevice(selector: string | undefined, options: OpenFidoDeviceOptions = {}): Promise<CtapHidTransport> {
  const dev = await resolveFidoDevice(selector, options);
  const base = { ...(options.signal ? { signal: options.signal } : {}), ...(options.deadline ? { deadline: options.deadline } : {}), descriptor: dev.path };
  if (dev.transport === 'udp') {
    return CtapHidTransport.open(await UdpHidConnection.open(dev.path, options.signal ? { signal: options.signal } : {}), { ...base, kind: 'udp' });
  }
  const { NodeHidConnection } = await loadHid(() => import('../drivers/hid/node-hid-connection.ts'));
  const conn = await NodeHidConnection.open(dev.path, { ...(options.signal ? { signal: options.signal } : {}), ...(options.lock ? { lock: options.lock } : {}) });
  return CtapHidTransport.open(conn, { ...base, kind: 'usb' });
}
