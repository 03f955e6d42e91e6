/** The control plane without the agent: device resolution, touch, faults, PIN state through CTAP. */
import { describe, expect, it } from 'vitest';
import { createSimControl, SimDeviceNotFoundError, SimStateError } from '../../../src/sim/faults/sim-control.ts';
import { FaultInjector } from '../../../src/sim/faults/fault-injector.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { createSimEnv, TouchController } from '../../../src/sim/env.ts';
import { Pin } from '../../../src/protocol/secret.ts';

function simulator(n = 1) {
  const keys = Array.from({ length: n }, (_, i) => {
    const touch = new TouchController('auto');
    const authenticator = new VirtualAuthenticator({ env: createSimEnv({ touch }) });
    const hid = new VirtualHidDevice(authenticator);
    return { key: `yubikey-5-nfc-5.7#${i}`, profile: 'yubikey-5-nfc-5.7', authenticator, hid, touch, faults: new FaultInjector() };
  });
  const events: string[] = [];
  return {
    keys,
    events,
    plug(i: number) {
      keys[i]!.authenticator.powerCycle();
      keys[i]!.hid.plug();
      events.push(`attached ${i}`);
    },
    unplug(i: number) {
      keys[i]!.hid.unplug();
      events.push(`detached ${i}`);
    },
  };
}
const method = (c: ReturnType<typeof createSimControl>, name: string) => c.methods.find((m) => m.name === name)!;
const ctx = (secrets: Record<string, Pin> = {}) => ({ secrets });

describe('createSimControl', () => {
  it('every method is admin-only with a closed params schema', () => {
    const c = createSimControl(simulator());
    expect(c.methods.map((m) => m.name).sort()).toEqual(['sim.devices', 'sim.fault', 'sim.pin.setState', 'sim.plug', 'sim.powerCycle', 'sim.touch', 'sim.unplug']);
    for (const m of c.methods) {
      expect(m.role).toBe('admin');
      expect(m.params.additionalProperties).toBe(false);
    }
    expect(method(c, 'sim.pin.setState').secretParams).toEqual(['pin']);
  });

  it('resolves a device by public id, key or index; one key may be implied, several may not', () => {
    const one = createSimControl(simulator(), { deviceId: (k) => `fido-${k.length}` });
    expect(one.describe().device).toBe('fido-19');
    const two = createSimControl(simulator(2), { deviceId: (k) => `id-${k.slice(-1)}` });
    expect(two.describe('id-1').index).toBe(1);
    expect(two.describe('yubikey-5-nfc-5.7#0').index).toBe(0);
    expect(two.describe('1').key).toBe('yubikey-5-nfc-5.7#1');
    expect(() => two.describe()).toThrow(SimDeviceNotFoundError);
    expect(() => two.describe('nope')).toThrow(SimDeviceNotFoundError);
  });

  it('plug/unplug/powerCycle go through the provider (events) and refuse a no-op', () => {
    const sim = simulator();
    const c = createSimControl(sim);
    method(c, 'sim.unplug').handler({}, ctx());
    expect(() => method(c, 'sim.unplug').handler({}, ctx())).toThrow(SimStateError);
    method(c, 'sim.plug').handler({}, ctx());
    method(c, 'sim.powerCycle').handler({}, ctx());
    expect(sim.events).toEqual(['detached 0', 'attached 0', 'detached 0', 'attached 0']);
  });

  it('touch once queues one answer; always changes the policy', () => {
    const sim = simulator();
    const c = createSimControl(sim);
    expect(method(c, 'sim.touch').handler({ mode: 'deny' }, ctx())).toMatchObject({ touch: 'approve' });
    expect(method(c, 'sim.touch').handler({ mode: 'ignore', once: false }, ctx())).toMatchObject({ touch: 'ignore' });
    expect(sim.keys[0]!.touch.policy).toBe('none');
  });

  it('fault arms and clears the injector; bad parameters are SIM_FAULT_INVALID', () => {
    const sim = simulator();
    const c = createSimControl(sim);
    expect(method(c, 'sim.fault').handler({ kind: 'busy', ms: 100 }, ctx())).toMatchObject({ fault: { kind: 'busy', ms: 100 } });
    expect(method(c, 'sim.fault').handler({ kind: 'clear' }, ctx())).toMatchObject({ fault: null });
    expect(() => method(c, 'sim.fault').handler({ kind: 'busy' }, ctx())).toThrow(expect.objectContaining({ code: 'SIM_FAULT_INVALID' }));
  });

  it('pin.setState reaches the state through CTAP: PIN set, 3 retries left, not soft-blocked; null removes the PIN', async () => {
    const sim = simulator();
    const c = createSimControl(sim);
    const r = (await method(c, 'sim.pin.setState').handler({ retries: 3 }, ctx({ pin: Pin.fromString('4826') }))) as { status: unknown };
    expect(r.status).toMatchObject({ state: 'ok', retriesLeft: 3, powerCycleRequired: false });
    expect(sim.keys[0]!.authenticator.pinState).toMatchObject({ pinSet: true, pinRetries: 3, consecutiveMismatches: 0 });
    const blocked = (await method(c, 'sim.pin.setState').handler({ retries: 0 }, ctx({ pin: Pin.fromString('4826') }))) as { status: unknown };
    expect(blocked.status).toMatchObject({ state: 'blocked', retriesLeft: 0 });
    const none = (await method(c, 'sim.pin.setState').handler({}, ctx())) as { status: unknown };
    expect(none.status).toMatchObject({ state: 'no-pin' });
  });

  it('pin.setState sets forcePinChange and a minimum PIN length through authenticatorConfig (CTAP 2.1 §6.11.4)', async () => {
    const sim = simulator();
    const c = createSimControl(sim);
    const r = (await method(c, 'sim.pin.setState').handler({ forcePinChange: true, minPinLength: 6 }, ctx({ pin: Pin.fromString('482613') }))) as { status: unknown };
    expect(r.status).toMatchObject({ state: 'change-required', retriesLeft: 8, minLength: 6 });
    expect(sim.keys[0]!.authenticator.pinState).toMatchObject({ pinSet: true, forcePinChange: true, minPinLength: 6 });
    await expect(method(c, 'sim.pin.setState').handler({ forcePinChange: true, retries: 3 }, ctx({ pin: Pin.fromString('482613') }))).rejects.toMatchObject({ code: 'SIM_STATE' });
    await expect(method(c, 'sim.pin.setState').handler({ pin: null, forcePinChange: true }, ctx())).rejects.toMatchObject({ code: 'SIM_STATE' });
  });

  it('error classes keep name and code', () => {
    expect(new SimDeviceNotFoundError('x')).toMatchObject({ name: 'SimDeviceNotFoundError', code: 'DEVICE_NOT_FOUND' });
    expect(new SimStateError('x')).toMatchObject({ name: 'SimStateError', code: 'SIM_STATE' });
  });
});
