import { afterEach, describe, expect, it } from 'vitest';
import { FaultInjector, parseFaultSpec, FaultSpecError } from '../../../src/sim/faults/fault-injector.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../../../src/protocol/ctaphid/constants.ts';
import { Deadline } from '../../../src/util/deadline.ts';
import { decodeAuthenticatorInfo } from '../../../src/protocol/ctap2/get-info.ts';

const GET_INFO = new Uint8Array([0x04]);
const GET_RETRIES = new Uint8Array([0x06, 0xa2, 0x01, 0x02, 0x02, 0x01]); // {1: 2, 2: getPINRetries}

function rig() {
  const auth = new VirtualAuthenticator({ env: createSimEnv() });
  const dev = new VirtualHidDevice(auth);
  const fi = new FaultInjector({ onDisconnect: () => dev.unplug() });
  const open = () => CtapHidTransport.open(fi.wrap(dev.open()), { kind: 'virtual', keepaliveSilenceMs: 300 });
  return { auth, dev, fi, open };
}

let toClose: CtapHidTransport[] = [];
afterEach(async () => {
  await Promise.all(toClose.map((t) => t.close().catch(() => undefined)));
  toClose = [];
});

async function info(t: CtapHidTransport, deadlineMs = 5000) {
  const r = await t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(deadlineMs) });
  expect(r[0]).toBe(0);
  return decodeAuthenticatorInfo(r.subarray(1));
}

describe('fault injection (DESIGN.md §7): typed errors at the client, true state after', () => {
  it('disconnect at message 2 fails the second request with DEVICE_REMOVED; after re-plug the key answers', async () => {
    const { dev, fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'disconnect', atMessage: 2 });
    await info(t);
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO)).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    expect(dev.plugged).toBe(false);
    dev.plug();
    const t2 = await open();
    toClose.push(t2);
    expect((await info(t2)).versions.length).toBeGreaterThan(0);
    expect(fi.fired).toEqual([{ kind: 'disconnect', atMessage: 2 }]);
  });

  it('disconnect after the device processed the request loses the answer, not the state', async () => {
    const { dev, fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'disconnect', atMessage: 1, phase: 'after' });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO)).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    dev.plug();
    const t2 = await open();
    toClose.push(t2);
    await info(t2);
  });

  it('a corrupted reply command is a PROTOCOL_ERROR', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'corrupt' });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    await info(t); // one-shot: the next request is fine
  });

  it('a broken continuation sequence is a PROTOCOL_ERROR (CTAP 2.1 §11.2.4)', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'corrupt', target: 'seq' });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('CHANNEL_BUSY longer than the deadline is DEVICE_BUSY; the client retried meanwhile', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'busy', ms: 60_000 });
    const err = await t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(400) }).catch((e) => e);
    // Even when the last back-off timer fires a millisecond early and the resent request meets
    // the deadline, the cause reported is the busy channel, not a silent key.
    expect(err.code).toBe('DEVICE_BUSY');
    fi.clear();
    await info(t);
  });

  it('CHANNEL_BUSY shorter than the deadline is retried through (CTAP 2.1 §11.2.9.1.6)', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'busy', ms: 150 });
    expect((await info(t)).versions.length).toBeGreaterThan(0);
    expect(fi.fired.map((f) => f.kind)).toEqual(['busy']);
  });

  it('stalled keepalives trip the keepalive watchdog: TIMEOUT, and the request never reached the key', async () => {
    const { auth, fi, open } = rig();
    const t = await open();
    toClose.push(t);
    const before = auth.pinState;
    fi.arm({ kind: 'stall' });
    const seen: string[] = [];
    await expect(t.exchange(CtapHidCmd.CBOR, GET_RETRIES, { onKeepalive: (s) => seen.push(s) })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(seen).toEqual(['processing']);
    expect(auth.pinState).toEqual(before);
    await info(t);
  });

  it('a tarpit (keepalives forever) ends at the deadline with TIMEOUT', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'stall', keepalives: 'forever' });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(450) })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('a slow device past the deadline is TIMEOUT; within it, the answer arrives', async () => {
    const { fi, open } = rig();
    const t = await open();
    toClose.push(t);
    fi.arm({ kind: 'slow', delayMs: 1000 });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(300) })).rejects.toMatchObject({ code: 'TIMEOUT' });
    // the late reply of the timed-out request is still queued on that handle: reopen, as the agent does per transaction
    fi.arm({ kind: 'slow', delayMs: 20 });
    const t2 = await open();
    toClose.push(t2);
    await info(t2, 10_000);
  });

  it('parseFaultSpec validates sim.fault parameters', () => {
    expect(parseFaultSpec({ kind: 'disconnect' })).toEqual({ kind: 'disconnect', atMessage: 1, phase: 'before' });
    expect(parseFaultSpec({ kind: 'busy', ms: 500 })).toEqual({ kind: 'busy', ms: 500 });
    expect(() => parseFaultSpec({ kind: 'melt' })).toThrow(FaultSpecError);
    expect(() => parseFaultSpec({ kind: 'slow', delayMs: -1 })).toThrow(/delayMs/);
    expect(new FaultSpecError('x')).toMatchObject({ name: 'FaultSpecError', code: 'SIM_FAULT_INVALID' });
  });
});

describe('faults through FidoClient: the state after a fault is the key state', () => {
  it('a wrong PIN whose answer is lost to a disconnect still counts; pinStatus after re-plug says 7 (CTAP 2.1 §6.5.2.1)', async () => {
    const { FidoClient } = await import('../../../src/fido/fido-client.ts');
    const { Pin } = await import('../../../src/protocol/secret.ts');
    const { auth, dev, fi, open } = rig();
    const c0 = new FidoClient(await open());
    await c0.setPin(Pin.fromString('4826'));
    await c0.transport.close();
    const c1 = new FidoClient(await open());
    // verifyPin: getInfo, getPINRetries, getKeyAgreement, getPinToken (4th message) - processed, answer lost
    fi.arm({ kind: 'disconnect', atMessage: 4, phase: 'after' });
    await expect(c1.verifyPin(Pin.fromString('000000'))).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    expect(auth.pinState.pinRetries).toBe(7);
    dev.plug();
    const c2 = new FidoClient(await open());
    toClose.push(c2.transport as CtapHidTransport);
    expect(await c2.pinStatus()).toMatchObject({ state: 'ok', retriesLeft: 7 });
  });

  it('a stalled changePIN never reaches the key: TIMEOUT, and the old PIN still verifies', async () => {
    const { FidoClient } = await import('../../../src/fido/fido-client.ts');
    const { Pin } = await import('../../../src/protocol/secret.ts');
    const { auth, fi, open } = rig();
    const c = new FidoClient(await open());
    toClose.push(c.transport as CtapHidTransport);
    await c.setPin(Pin.fromString('4826'));
    fi.arm({ kind: 'stall' });
    await expect(c.changePin(Pin.fromString('4826'), Pin.fromString('739105'))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(auth.pinState).toMatchObject({ pinSet: true, pinRetries: 8 });
    expect(await c.verifyPin(Pin.fromString('4826'))).toMatchObject({ state: 'ok', retriesLeft: 8 });
  });
});
