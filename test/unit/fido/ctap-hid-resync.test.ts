import { afterEach, describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../src/sim/faults/fault-injector.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../../../src/protocol/ctaphid/constants.ts';
import { Deadline } from '../../../src/util/deadline.ts';
import { decodeAuthenticatorInfo } from '../../../src/protocol/ctap2/get-info.ts';

const GET_INFO = new Uint8Array([0x04]);
const GET_RETRIES = new Uint8Array([0x06, 0xa2, 0x01, 0x02, 0x02, 0x01]); // {1: 2, 2: getPINRetries}

let toClose: CtapHidTransport[] = [];
afterEach(async () => {
  await Promise.all(toClose.map((t) => t.close().catch(() => undefined)));
  toClose = [];
});

describe('CtapHidTransport after an interrupted request', () => {
  it('resynchronises the channel with INIT, so a late reply is never taken for the next request (CTAP 2.1 §11.2.9.1.3)', async () => {
    const auth = new VirtualAuthenticator({ env: createSimEnv() });
    const dev = new VirtualHidDevice(auth);
    const fi = new FaultInjector({ onDisconnect: () => dev.unplug() });
    const t = await CtapHidTransport.open(fi.wrap(dev.open()), { kind: 'virtual' });
    toClose.push(t);
    fi.arm({ kind: 'slow', delayMs: 400 });
    await expect(t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(100) })).rejects.toMatchObject({ code: 'TIMEOUT' });
    fi.clear(); // the key is fast again, but the timed-out reply is already on its way
    // Same handle, next request: its reply must be the retries answer, not the stale getInfo.
    const r = await t.exchange(CtapHidCmd.CBOR, GET_RETRIES, { deadline: Deadline.in(5000) });
    expect(() => decodeAuthenticatorInfo(r.subarray(1))).toThrow();
    expect(r.length).toBeLessThan(16);
    // and the channel stays usable afterwards
    const again = await t.exchange(CtapHidCmd.CBOR, GET_INFO, { deadline: Deadline.in(5000) });
    expect(decodeAuthenticatorInfo(again.subarray(1)).versions).toContain('FIDO_2_1');
  });
});
