import { describe, expect, it } from 'vitest';
import { guidedReset, deviceFingerprint } from '../../../src/fido/reset-guide.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { loadProfile } from '../../../src/sim/profiles.ts';
import type { DeviceEvent, DeviceSource } from '../../../src/drivers/device-source.ts';
import { Pin } from '../../../src/protocol/secret.ts';

/** A hand-driven DeviceSource: the test "unplugs" and "plugs" keys. */
class ManualSource implements DeviceSource<string> {
  listeners = new Set<(e: DeviceEvent<string>) => void>();
  async list() {
    return [];
  }
  watch(l: (e: DeviceEvent<string>) => void) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  emit(e: DeviceEvent<string>) {
    for (const l of [...this.listeners]) l(e);
  }
  async close() {}
}

function rig(profileName?: string) {
  const auth = new VirtualAuthenticator(profileName ? { profile: loadProfile(profileName) } : {});
  const dev = new VirtualHidDevice(auth);
  return { auth, dev, open: async () => new FidoClient(await CtapHidTransport.open(dev.open(), { kind: 'virtual' })) };
}

describe('guided reset (fido.md §10, ykman flow)', () => {
  it('asks to remove, waits, asks to insert, checks it is the same key, resets at once → no-pin', async () => {
    const k = rig();
    await (await k.open()).setPin(Pin.fromString('4826'));
    const source = new ManualSource();
    const progress: string[] = [];
    const done = guidedReset({
      device: 'key',
      open: () => k.open(),
      source,
      onProgress: (p) => {
        progress.push(p);
        // The technician's hands: pull the key when asked, push it back when asked.
        if (p === 'remove-key') queueMicrotask(() => (k.dev.unplug(), source.emit({ type: 'detached', device: 'key' })));
        if (p === 'insert-key') queueMicrotask(() => (k.auth.powerCycle(), k.dev.plug(), source.emit({ type: 'attached', device: 'key' })));
      },
    });
    const s = await done;
    expect(s).toMatchObject({ state: 'no-pin', retriesLeft: null });
    expect(progress.slice(0, 2)).toEqual(['remove-key', 'insert-key']);
    expect(k.auth.pinState.pinSet).toBe(false);
  });

  it('refuses with DEVICE_MISMATCH when another key is inserted, and resets nothing', async () => {
    const a = rig();
    const b = rig('solo-1');
    await (await b.open()).setPin(Pin.fromString('4826'));
    const source = new ManualSource();
    let current = a;
    const p = guidedReset({
      device: 'key',
      open: () => current.open(),
      source,
      onProgress: (x) => {
        if (x === 'remove-key') queueMicrotask(() => source.emit({ type: 'detached', device: 'key' }));
        if (x === 'insert-key') queueMicrotask(() => ((current = b), source.emit({ type: 'attached', device: 'key' })));
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'DEVICE_MISMATCH' });
    expect(b.auth.pinState.pinSet).toBe(true);
  });

  it('the fingerprint ignores encIdentifier and encCredStoreState (they change every power cycle)', async () => {
    const info = await (await rig().open()).getInfo();
    const a = deviceFingerprint({ ...info, encIdentifier: Uint8Array.of(1) });
    const b = deviceFingerprint({ ...info, encIdentifier: Uint8Array.of(2), encCredStoreState: Uint8Array.of(3) });
    expect(a).toBe(b);
    expect(deviceFingerprint({ ...info, aaguid: new Uint8Array(16).fill(9) })).not.toBe(a);
  });
});
