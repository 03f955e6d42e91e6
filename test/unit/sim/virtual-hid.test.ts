import { describe, expect, it } from 'vitest';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, TouchController } from '../../../src/sim/env.ts';
import { loadProfile } from '../../../src/sim/profiles.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../../../src/protocol/ctaphid/constants.ts';
import { frameRequest, parseResponse } from '../../../src/protocol/ctap2/frame.ts';
import { GetInfo } from '../../../src/protocol/ctap2/get-info.ts';
import { Reset } from '../../../src/protocol/ctap2/reset.ts';
import { CancelledError, DeviceRemovedError } from '../../../src/protocol/transport-errors.ts';
import { encodeFrames } from '../../../src/protocol/ctaphid/framing.ts';

function setup(touch = new TouchController('auto')) {
  const profile = loadProfile();
  const auth = new VirtualAuthenticator({ profile, env: createSimEnv({ touch }) });
  // INIT version and capabilities come from the authenticator's profile by default.
  const hid = new VirtualHidDevice(auth, { keepaliveIntervalMs: 10 });
  return { auth, hid, touch };
}

describe('VirtualHidDevice: an in-memory HidConnection to the virtual key', () => {
  it("runs keytap's CtapHidTransport unchanged: INIT with the profile's version, then getInfo", async () => {
    const { hid } = setup();
    const t = await CtapHidTransport.open(hid.open(), { kind: 'virtual' });
    expect([t.init.versionMajor, t.init.versionMinor, t.init.versionBuild]).toEqual([5, 7, 1]);
    const info = parseResponse(GetInfo, await t.exchange(CtapHidCmd.CBOR, frameRequest(GetInfo, undefined)));
    expect(info.aaguid).toHaveLength(16);
    await t.close();
  });

  it('reports UPNEEDED keepalives while waiting for touch, and an abort sends CANCEL → the transport rejects (§11.2.9.1.5)', async () => {
    const { hid, touch } = setup(new TouchController('none'));
    const t = await CtapHidTransport.open(hid.open(), { kind: 'virtual' });
    const seen: string[] = [];
    const ac = new AbortController();
    const p = t.exchange(CtapHidCmd.CBOR, frameRequest(Reset, undefined), { signal: ac.signal, onKeepalive: (s) => seen.push(s) });
    for (let i = 0; i < 100 && !seen.includes('up-needed'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toContain('up-needed');
    expect(touch.pending).toBe(1);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(touch.pending).toBe(0); // the authenticator stopped waiting
    await t.close();
  });

  it('two handles share the key on separate channels; concurrent requests both succeed (the host retries CHANNEL_BUSY)', async () => {
    const { hid } = setup();
    const a = await CtapHidTransport.open(hid.open(), { kind: 'virtual' });
    const b = await CtapHidTransport.open(hid.open(), { kind: 'virtual' });
    expect(a.cid).not.toBe(b.cid);
    const [ra, rb] = await Promise.all([
      a.exchange(CtapHidCmd.CBOR, frameRequest(GetInfo, undefined)),
      b.exchange(CtapHidCmd.CBOR, frameRequest(GetInfo, undefined)),
    ]);
    expect(ra[0]).toBe(0);
    expect(rb[0]).toBe(0);
    await a.close();
    await b.close();
  });

  it('unplug fails open handles with DeviceRemovedError and refuses new ones', async () => {
    const { hid } = setup();
    const conn = hid.open();
    const read = conn.read(5000);
    hid.unplug();
    await expect(read).rejects.toBeInstanceOf(DeviceRemovedError);
    expect(() => hid.open()).toThrow(DeviceRemovedError);
    hid.plug();
    const c2 = hid.open();
    await c2.write(encodeFrames(0xffffffff, CtapHidCmd.INIT, new Uint8Array(8))[0]!);
    expect((await c2.read(1000))[4]).toBe(0x80 | CtapHidCmd.INIT);
    await c2.close();
  });
});
