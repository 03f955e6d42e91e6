import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CtapHidDevice, MAX_CHANNELS, type CborHandler, type KeepaliveStatusValue } from '../../../src/sim/ctaphid-device.ts';
import { encodeFrames, parseFrame } from '../../../src/protocol/ctaphid/framing.ts';
import { BROADCAST_CID, CtapHidCmd, CtapHidErrorCode } from '../../../src/protocol/ctaphid/constants.ts';
import { readU32BE } from '../../../src/util/bytes.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { loadProfile } from '../../../src/sim/profiles.ts';

/** A CBOR handler the test drives by hand: each request waits until resolved or aborted. */
class ManualHandler implements CborHandler {
  calls: Array<{ request: Uint8Array; resolve: (r: Uint8Array) => void; signal: AbortSignal; onKeepalive: (s: KeepaliveStatusValue) => void }> = [];
  handleCbor(request: Uint8Array, o: { signal: AbortSignal; onKeepalive: (s: KeepaliveStatusValue) => void }): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.calls.push({ request, resolve, signal: o.signal, onKeepalive: o.onKeepalive });
      // Like the virtual authenticator: a cancelled request answers 0x2D KEEPALIVE_CANCEL.
      o.signal.addEventListener('abort', () => resolve(Uint8Array.of(0x2d)));
    });
  }
}

function setup() {
  const out: Uint8Array[] = [];
  const handler = new ManualHandler();
  const dev = new CtapHidDevice(handler, { send: (r) => out.push(r), deviceVersion: [5, 7, 1], capabilities: 0x0d, keepaliveIntervalMs: 100 });
  const send = (cid: number, cmd: number, payload: Uint8Array = new Uint8Array(0)) => {
    for (const f of encodeFrames(cid, cmd, payload)) dev.receive(f);
  };
  const take = () => out.splice(0).map(parseFrame);
  const init = (): number => {
    send(BROADCAST_CID, CtapHidCmd.INIT, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const [f] = take();
    if (f?.type !== 'init') throw new Error('no INIT reply');
    return readU32BE(f.data, 8);
  };
  return { dev, handler, out, send, take, init };
}

describe('CtapHidDevice (CTAP 2.1 §11.2)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('answers INIT on the broadcast channel with the nonce, a new channel, version and capabilities (§11.2.9.1.3)', () => {
    const { send, take } = setup();
    send(BROADCAST_CID, CtapHidCmd.INIT, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const [f] = take();
    expect(f).toMatchObject({ type: 'init', cid: BROADCAST_CID, cmd: CtapHidCmd.INIT, bcnt: 17 });
    const d = f!.data.subarray(0, 17);
    expect([...d.subarray(0, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(readU32BE(d, 8)).toBe(1);
    expect([...d.subarray(12, 17)]).toEqual([2, 5, 7, 1, 0x0d]);
  });

  it('allocates distinct channels and resyncs an existing channel with INIT on it', () => {
    const { send, take, init } = setup();
    const a = init();
    const b = init();
    expect(b).not.toBe(a);
    send(a, CtapHidCmd.INIT, Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9));
    const [f] = take();
    expect(f).toMatchObject({ cid: a, cmd: CtapHidCmd.INIT });
    expect(readU32BE(f!.data, 8)).toBe(a);
  });

  it('echoes a multi-packet PING', () => {
    const { send, take, init } = setup();
    const cid = init();
    const payload = new Uint8Array(200).map((_, i) => i);
    send(cid, CtapHidCmd.PING, payload);
    const frames = take();
    expect(frames).toHaveLength(4);
    expect(frames[0]).toMatchObject({ cmd: CtapHidCmd.PING, bcnt: 200 });
  });

  it('answers WINK with an empty WINK', () => {
    const { send, take, init } = setup();
    const cid = init();
    send(cid, CtapHidCmd.WINK);
    expect(take()[0]).toMatchObject({ cmd: CtapHidCmd.WINK, bcnt: 0 });
  });

  it('answers a command on an unallocated channel with INVALID_CHANNEL (§11.2.3)', () => {
    const { send, take } = setup();
    send(0x12345678, CtapHidCmd.PING, Uint8Array.of(1));
    const [f] = take();
    expect(f).toMatchObject({ cid: 0x12345678, cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.INVALID_CHANNEL);
  });

  it('rejects a continuation packet with an unexpected sequence number with INVALID_SEQ (§11.2.4)', () => {
    const { dev, take, init } = setup();
    const cid = init();
    const frames = encodeFrames(cid, CtapHidCmd.PING, new Uint8Array(200));
    dev.receive(frames[0]!);
    dev.receive(frames[2]!); // seq 1 where 0 is expected
    const [f] = take();
    expect(f).toMatchObject({ cid, cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.INVALID_SEQ);
    expect(dev.state).toBe('idle');
  });

  it('answers an unknown command and MSG (no CTAP1, NMSG) with INVALID_CMD', () => {
    const { send, take, init } = setup();
    const cid = init();
    send(cid, CtapHidCmd.MSG, Uint8Array.of(0));
    send(cid, 0x55);
    const fs = take();
    expect(fs.map((f) => (f.type === 'init' ? [f.cmd, f.data[0]] : null))).toEqual([
      [CtapHidCmd.ERROR, CtapHidErrorCode.INVALID_CMD],
      [CtapHidCmd.ERROR, CtapHidErrorCode.INVALID_CMD],
    ]);
  });

  it('answers INIT with a wrong nonce length with INVALID_LEN', () => {
    const { send, take } = setup();
    send(BROADCAST_CID, CtapHidCmd.INIT, Uint8Array.of(1, 2, 3));
    const [f] = take();
    expect(f).toMatchObject({ cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.INVALID_LEN);
  });

  it('aborts an incomplete message with MSG_TIMEOUT after the transaction timeout (§11.2.5)', async () => {
    const { dev, take, init } = setup();
    const cid = init();
    dev.receive(encodeFrames(cid, CtapHidCmd.PING, new Uint8Array(100))[0]!);
    expect(dev.state).toBe('receiving');
    await vi.advanceTimersByTimeAsync(2999);
    expect(take()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(10);
    const [f] = take();
    expect(f).toMatchObject({ cid, cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.MSG_TIMEOUT);
    expect(dev.state).toBe('idle');
  });

  it('answers another channel with CHANNEL_BUSY while a CBOR request is processing (§11.2.5)', async () => {
    const { send, take, init, handler } = setup();
    const a = init();
    const b = init();
    send(a, CtapHidCmd.CBOR, Uint8Array.of(0x04));
    expect(handler.calls).toHaveLength(1);
    send(b, CtapHidCmd.PING, Uint8Array.of(1));
    const [f] = take();
    expect(f).toMatchObject({ cid: b, cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.CHANNEL_BUSY);
    handler.calls[0]!.resolve(Uint8Array.of(0));
    await Promise.resolve();
    await Promise.resolve();
    expect(take()[0]).toMatchObject({ cid: a, cmd: CtapHidCmd.CBOR, bcnt: 1 });
    send(b, CtapHidCmd.PING, Uint8Array.of(1));
    expect(take()[0]).toMatchObject({ cid: b, cmd: CtapHidCmd.PING });
  });

  it('answers another channel with CHANNEL_BUSY while a multi-packet message is being received', () => {
    const { dev, send, take, init } = setup();
    const a = init();
    const b = init();
    dev.receive(encodeFrames(a, CtapHidCmd.PING, new Uint8Array(100))[0]!);
    send(b, CtapHidCmd.PING, Uint8Array.of(1));
    const [f] = take();
    expect(f).toMatchObject({ cid: b, cmd: CtapHidCmd.ERROR });
    expect(f!.data[0]).toBe(CtapHidErrorCode.CHANNEL_BUSY);
  });

  it('CANCEL aborts the pending CBOR request, which is answered with 0x2D KEEPALIVE_CANCEL (§11.2.9.1.5)', async () => {
    const { send, take, init, handler } = setup();
    const cid = init();
    send(cid, CtapHidCmd.CBOR, Uint8Array.of(0x07));
    send(cid, CtapHidCmd.CANCEL);
    expect(handler.calls[0]!.signal.aborted).toBe(true);
    await Promise.resolve();
    await Promise.resolve();
    const [f] = take();
    expect(f).toMatchObject({ cid, cmd: CtapHidCmd.CBOR, bcnt: 1 });
    expect(f!.data[0]).toBe(0x2d);
  });

  it('INIT on the busy channel resynchronises it: the pending request is abandoned, its reply never sent (§11.2.9.1.3)', async () => {
    const { dev, send, take, init, handler } = setup();
    const cid = init();
    send(cid, CtapHidCmd.CBOR, Uint8Array.of(0x07));
    send(cid, CtapHidCmd.INIT, Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7));
    const [f] = take();
    expect(f).toMatchObject({ cid, cmd: CtapHidCmd.INIT });
    expect(handler.calls[0]!.signal.aborted).toBe(true);
    expect(dev.state).toBe('idle');
    await vi.advanceTimersByTimeAsync(500);
    expect(take()).toHaveLength(0); // neither the 0x2D reply nor keepalives
    send(cid, CtapHidCmd.PING, Uint8Array.of(1));
    expect(take()[0]).toMatchObject({ cid, cmd: CtapHidCmd.PING });
  });

  it('CANCEL with nothing pending gets no reply', () => {
    const { send, take, init } = setup();
    const cid = init();
    send(cid, CtapHidCmd.CANCEL);
    expect(take()).toHaveLength(0);
  });

  it('sends keepalives every 100 ms while processing: PROCESSING, then UPNEEDED while waiting for touch (§11.2.9.1.5)', async () => {
    const { send, take, init, handler } = setup();
    const cid = init();
    send(cid, CtapHidCmd.CBOR, Uint8Array.of(0x07));
    await vi.advanceTimersByTimeAsync(99);
    expect(take()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    let fs = take();
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({ cid, cmd: CtapHidCmd.KEEPALIVE, bcnt: 1 });
    expect(fs[0]!.data[0]).toBe(1);
    handler.calls[0]!.onKeepalive(2);
    await vi.advanceTimersByTimeAsync(300);
    fs = take();
    expect(fs).toHaveLength(3);
    expect(fs.every((f) => f.type === 'init' && f.cmd === CtapHidCmd.KEEPALIVE && f.data[0] === 2)).toBe(true);
    handler.calls[0]!.resolve(Uint8Array.of(0));
    await vi.advanceTimersByTimeAsync(500);
    fs = take();
    expect(fs).toHaveLength(1); // the CBOR reply, and no keepalive after it
    expect(fs[0]).toMatchObject({ cmd: CtapHidCmd.CBOR });
  });

  it('remembers at most MAX_CHANNELS channels, forgetting the oldest', () => {
    const { send, take, init } = setup();
    const first = init();
    for (let i = 0; i < MAX_CHANNELS; i++) init();
    send(first, CtapHidCmd.PING, Uint8Array.of(1));
    expect(take()[0]!.data[0]).toBe(CtapHidErrorCode.INVALID_CHANNEL);
  });

  it('power cycle forgets channels', () => {
    const { dev, send, take, init } = setup();
    const cid = init();
    dev.powerCycle();
    send(cid, CtapHidCmd.PING, Uint8Array.of(1));
    expect(take()[0]!.data[0]).toBe(CtapHidErrorCode.INVALID_CHANNEL);
  });
});

describe('CtapHidDevice + VirtualAuthenticator: waiting for touch (CTAP 2.1 §11.2.9.1.5, §6.6)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends UPNEEDED keepalives every 100 ms while nobody touches the key, then answers ACTION_TIMEOUT', async () => {
    const auth = new VirtualAuthenticator({ profile: loadProfile(), env: createSimEnv({ touchPolicy: 'none' }), userPresenceTimeoutMs: 1000 });
    const out: Uint8Array[] = [];
    const dev = new CtapHidDevice(auth, { send: (r) => out.push(r), keepaliveIntervalMs: 100 });
    for (const f of encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, new Uint8Array(8))) dev.receive(f);
    const cid = readU32BE(parseFrame(out.splice(0)[0]!).data, 8);
    for (const f of encodeFrames(cid, CtapHidCmd.CBOR, Uint8Array.of(0x07))) dev.receive(f); // authenticatorReset
    await vi.advanceTimersByTimeAsync(950);
    const kas = out.splice(0).map(parseFrame);
    expect(kas).toHaveLength(9);
    expect(kas.every((f) => f.type === 'init' && f.cmd === CtapHidCmd.KEEPALIVE && f.data[0] === 2)).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    const rest = out.splice(0).map(parseFrame);
    const reply = rest.find((f) => f.type === 'init' && f.cmd === CtapHidCmd.CBOR)!;
    expect(reply).toBeDefined();
    expect(reply.data[0]).toBe(0x3a); // ACTION_TIMEOUT
    expect(dev.state).toBe('idle');
  });
});
