/**
 * USB hotplug without busy polling (bench/agent-footprint.ts: idle CPU): the HID provider that
 * src/main.ts wires re-enumerates when a `hidraw*` node appears or vanishes in the watched
 * directory (inotify), not on a fast timer. node-hid is replaced by an injected enumerator (there
 * is no HID on CI); the directory is a temp dir standing in for /dev. Ids come from VID:PID:serial,
 * never the hidraw path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHidProvider, HID_SAFETY_POLL_MS } from '../../../src/main.ts';
import { createLogger } from '../../../src/agent/logger.ts';
import type { HidDeviceInfo } from '../../../src/drivers/hid-connection.ts';
import type { AuthenticatorDevice, ProviderEvent } from '../../../src/agent/providers.ts';
import { until } from './helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const yubikey = (path: string): HidDeviceInfo => ({ path, vendorId: 0x1050, productId: 0x0407, manufacturer: 'Yubico', product: 'YubiKey OTP+FIDO+CCID', serialNumber: '12345678', usagePage: 0xf1d0, usage: 1 });

describe('HID provider hotplug', () => {
  it('a hidraw node appearing or vanishing triggers re-enumeration (attach, then detach) long before the safety poll', async () => {
    const dev = mkdtempSync(join(tmpdir(), 'keytap-dev-'));
    dirs.push(dev);
    let present: HidDeviceInfo[] = [];
    let enumerations = 0;
    const provider = await createHidProvider(createLogger({ level: 'silent' }), {
      devDir: dev,
      // No timer can find the key during this test: only the /dev watch can.
      safetyPollMs: 3_600_000,
      enumerate: async () => {
        enumerations++;
        return present;
      },
    });
    const events: Array<ProviderEvent<AuthenticatorDevice>> = [];
    const stopAll = provider.watch((e) => events.push(e));
    expect(await provider.list()).toEqual([]);
    present = [yubikey(join(dev, 'hidraw3'))];
    writeFileSync(join(dev, 'hidraw3'), '');
    await until(() => events.length === 1, 'attach');
    expect(events[0].type).toBe('attached');
    expect(events[0].device).toMatchObject({ kind: 'authenticator', transport: 'usb', key: '1050:0407:12345678', name: 'Yubico YubiKey OTP+FIDO+CCID', serialNumber: '12345678' });
    present = [];
    unlinkSync(join(dev, 'hidraw3'));
    await until(() => events.length === 2, 'detach');
    expect(events[1].type).toBe('detached');
    expect(HID_SAFETY_POLL_MS).toBeGreaterThanOrEqual(10_000);
    // Only the initial scan and the /dev-triggered rescans ran: no fast timer.
    expect(enumerations).toBeLessThanOrEqual(7);
    stopAll();
    await provider.close();
  });
});
