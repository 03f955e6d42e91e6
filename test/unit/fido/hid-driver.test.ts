import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// node-hid is the one thing mocked (no HID on this machine): the driver above it is real.
const state = vi.hoisted(() => ({
  devices: [] as Array<Record<string, unknown>>,
  opened: [] as Array<{ path: string; writes: Buffer[]; reads: Array<Buffer | undefined>; closed: boolean }>,
  openError: null as Error | null,
}));
vi.mock('node-hid', () => {
  class HIDAsync {
    static async open(path: string) {
      if (state.openError) throw state.openError;
      const rec = { path, writes: [] as Buffer[], reads: [] as Array<Buffer | undefined>, closed: false };
      state.opened.push(rec);
      return {
        write: async (b: Buffer) => (rec.writes.push(Buffer.from(b)), b.length),
        read: async (_t: number) => {
          const r = rec.reads.shift();
          if (r && (r as { delayed?: number }).delayed) await new Promise((res) => setTimeout(res, (r as { delayed?: number }).delayed));
          return r;
        },
        close: async () => void (rec.closed = true),
      };
    }
  }
  const devicesAsync = async () => state.devices;
  return { default: { HIDAsync, devicesAsync }, HIDAsync, devicesAsync };
});

const { parseReportDescriptor, isFidoDescriptor, FIDO_USAGE_PAGE } = await import('../../../src/drivers/hid/report-descriptor.ts');
const { NodeHidConnection } = await import('../../../src/drivers/hid/node-hid-connection.ts');
const { listFidoHidDevices } = await import('../../../src/drivers/hid/hid-enumerator.ts');
const { HidDeviceSource } = await import('../../../src/drivers/hid/hid-device-source.ts');
const { noopDeviceLock } = await import('../../../src/drivers/hid/device-lock.ts');
const { fromHex } = await import('../../../src/util/bytes.ts');

describe('HID report descriptor (fido.md §12)', () => {
  it('parses the python-fido2 FIDO descriptor vector to usage page 0xF1D0, usage 1, 64/64', () => {
    const d = parseReportDescriptor(fromHex('06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0'));
    expect(d).toEqual({ usagePage: FIDO_USAGE_PAGE, usage: 1, inputReportSize: 64, outputReportSize: 64, hasReportIds: false });
    expect(isFidoDescriptor(d)).toBe(true);
  });

  it('rejects a boot mouse descriptor (usage page 1, usage 2)', () => {
    const mouse = fromHex(
      '05010902a1010901a100050919012903150025019503750181029501750581010501093009311581257f750895028106c0c0',
    );
    const d = parseReportDescriptor(mouse);
    expect(d).toMatchObject({ usagePage: 1, usage: 2 });
    expect(isFidoDescriptor(d)).toBe(false);
  });

  it('rejects a truncated descriptor', () => {
    expect(parseReportDescriptor(fromHex('06d0'))).toBeNull();
    expect(isFidoDescriptor(parseReportDescriptor(new Uint8Array()))).toBe(false);
  });
});

describe('NodeHidConnection (fido.md §1)', () => {
  beforeEach(() => {
    state.opened.length = 0;
    state.openError = null;
  });

  it('writes 65 bytes: report ID 0x00 then the 64-byte frame', async () => {
    const c = await NodeHidConnection.open('/dev/hidraw9', { reportSizes: { input: 64, output: 64 } });
    const frame = Uint8Array.from({ length: 64 }, (_, i) => i);
    await c.write(frame);
    const w = state.opened[0]!.writes[0]!;
    expect(w.length).toBe(65);
    expect(w[0]).toBe(0);
    expect([...w.subarray(1)]).toEqual([...frame]);
    await expect(c.write(new Uint8Array(65))).rejects.toThrow(RangeError);
  });

  it('reads 64-byte reports without a report ID, waiting across empty reads', async () => {
    const c = await NodeHidConnection.open('/dev/hidraw9', { reportSizes: { input: 64, output: 64 } });
    state.opened[0]!.reads.push(undefined, Buffer.alloc(64, 7));
    const r = await c.read(1000);
    expect(r.length).toBe(64);
    expect(r[0]).toBe(7);
  });

  it('times out a read with TIMEOUT', async () => {
    const c = await NodeHidConnection.open('/dev/hidraw9', { reportSizes: { input: 64, output: 64 } });
    await expect(c.read(5)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('an aborted read rejects with CANCELLED and the report the native read still delivers is not lost', async () => {
    const c = await NodeHidConnection.open('/dev/hidraw9', { reportSizes: { input: 64, output: 64 } });
    const late = Object.assign(Buffer.alloc(64, 9), { delayed: 30 });
    state.opened[0]!.reads.push(late);
    const ac = new AbortController();
    const p = c.read(1000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    const r = await c.read(1000);
    expect(r[0]).toBe(9);
  });

  it('defaults to 64-byte reports when the descriptor is not readable, and closes once', async () => {
    const c = await NodeHidConnection.open('/dev/not-hidraw');
    expect([c.inputReportSize, c.outputReportSize]).toEqual([64, 64]);
    await c.close();
    await c.close();
    expect(state.opened[0]!.closed).toBe(true);
    await expect(c.read(10)).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
  });

  it('maps an open failure of an absent device to DEVICE_REMOVED and a permission error to DEVICE_OPEN_FAILED', async () => {
    state.openError = new Error('No HID devices with requested VID/PID found in the system.');
    await expect(NodeHidConnection.open('/dev/hidraw9')).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    state.openError = new Error('cannot open device with path /dev/hidraw9: Permission denied');
    await expect(NodeHidConnection.open('/dev/hidraw9')).rejects.toMatchObject({ code: 'DEVICE_OPEN_FAILED' });
  });

  it('holds the device lock from open to close', async () => {
    const events: string[] = [];
    const lock = { effective: true, acquire: async (p: string) => (events.push(`lock ${p}`), { release: async () => void events.push('release') }) };
    const c = await NodeHidConnection.open('/dev/hidraw9', { lock, reportSizes: { input: 64, output: 64 } });
    expect(events).toEqual(['lock /dev/hidraw9']);
    await c.close();
    expect(events).toEqual(['lock /dev/hidraw9', 'release']);
    expect(noopDeviceLock.effective).toBe(false);
  });
});

describe('FIDO HID enumeration and hotplug (fido.md §12-13)', () => {
  const key = { path: '/dev/hidraw1', vendorId: 0x1050, productId: 0x0407, usagePage: 0xf1d0, usage: 1, serialNumber: 'A', product: 'YubiKey', release: 0, interface: 1 };
  const kbd = { path: '/dev/hidraw0', vendorId: 0x1050, productId: 0x0407, usagePage: 1, usage: 6, release: 0, interface: 0 };

  it('lists only usage page 0xF1D0 / usage 1 interfaces', async () => {
    state.devices = [kbd, key];
    const list = await listFidoHidDevices();
    expect(list.map((d) => d.path)).toEqual(['/dev/hidraw1']);
    expect(list[0]).toMatchObject({ vendorId: 0x1050, serialNumber: 'A', usagePage: 0xf1d0 });
  });

  describe('HidDeviceSource', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('reports current devices first, then attach and detach found by polling (diff by path + serial)', async () => {
      state.devices = [key];
      const src = new HidDeviceSource({ intervalMs: 500 });
      const events: string[] = [];
      const stop = src.watch((e) => events.push(`${e.type} ${e.device.path} ${e.device.serialNumber ?? ''}`));
      await vi.advanceTimersByTimeAsync(10);
      expect(events).toEqual(['attached /dev/hidraw1 A']);
      state.devices = [];
      await vi.advanceTimersByTimeAsync(500);
      expect(events.at(-1)).toBe('detached /dev/hidraw1 A');
      state.devices = [{ ...key, serialNumber: 'B' }];
      await vi.advanceTimersByTimeAsync(500);
      expect(events.at(-1)).toBe('attached /dev/hidraw1 B');
      // a second watcher gets the current devices first
      const late: string[] = [];
      const stop2 = src.watch((e) => late.push(`${e.type} ${e.device.serialNumber}`));
      await vi.advanceTimersByTimeAsync(1);
      expect(late).toEqual(['attached B']);
      stop();
      stop2();
      await src.close();
    });

    it('reports a product change as changed and keeps polling after an enumeration error', async () => {
      state.devices = [key];
      const errors: unknown[] = [];
      let fail = false;
      const src = new HidDeviceSource({
        intervalMs: 500,
        onError: (e) => errors.push(e),
        enumerate: async () => {
          if (fail) throw new Error('enumeration failed');
          const { listFidoHidDevices: list } = await import('../../../src/drivers/hid/hid-enumerator.ts');
          return list();
        },
      });
      const events: string[] = [];
      const stop = src.watch((e) => events.push(`${e.type} ${e.device.product}`));
      await vi.advanceTimersByTimeAsync(10);
      fail = true;
      await vi.advanceTimersByTimeAsync(500);
      expect(errors.length).toBe(1);
      fail = false;
      state.devices = [{ ...key, product: 'YubiKey 5' }];
      await vi.advanceTimersByTimeAsync(500);
      expect(events).toEqual(['attached YubiKey', 'changed YubiKey 5']);
      stop();
      await src.close();
    });
  });
});
