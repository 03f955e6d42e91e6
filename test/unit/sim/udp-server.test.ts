import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { UdpCtapHidServer, isLoopbackHost, UdpServerError } from '../../../src/sim/udp-server.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../../src/sim/env.ts';
import { encodeFrames, parseFrame } from '../../../src/protocol/ctaphid/framing.ts';
import { BROADCAST_CID, CtapHidCmd, CtapHidErrorCode } from '../../../src/protocol/ctaphid/constants.ts';
import { readU32BE } from '../../../src/util/bytes.ts';

/** A bare UDP peer speaking raw 64-byte reports. */
class Peer {
  readonly sock: Socket = createSocket('udp4');
  #queue: Uint8Array[] = [];
  #waiter: ((r: Uint8Array) => void) | null = null;
  constructor(readonly port: number) {
    this.sock.on('message', (m) => {
      const r = new Uint8Array(m);
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = null;
        w(r);
      } else this.#queue.push(r);
    });
  }
  send(report: Uint8Array): Promise<void> {
    return new Promise((res, rej) => this.sock.send(report, this.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  }
  next(timeoutMs = 2000): Promise<Uint8Array> {
    const q = this.#queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('no datagram')), timeoutMs);
      this.#waiter = (r) => {
        clearTimeout(t);
        res(r);
      };
    });
  }
  get queued(): number {
    return this.#queue.length;
  }
  async init(nonce: number): Promise<number> {
    await this.send(encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, new Uint8Array(8).fill(nonce))[0]!);
    const f = parseFrame(await this.next());
    if (f.type !== 'init' || f.data[0] !== nonce) throw new Error('bad INIT reply');
    return readU32BE(f.data, 8);
  }
  close(): void {
    this.sock.close();
  }
}

describe('UdpCtapHidServer (DESIGN.md §7: CTAPHID over UDP)', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function start() {
    const server = await UdpCtapHidServer.listen(new VirtualAuthenticator({ env: createSimEnv() }), { host: '127.0.0.1', port: 0 });
    cleanup.push(() => server.close());
    const peer = () => {
      const p = new Peer(server.address.port);
      cleanup.push(() => p.close());
      return p;
    };
    return { server, peer };
  }

  it('answers each client on its own address: two peers, two channels, replies never cross', async () => {
    const { server, peer } = await start();
    expect(server.address.port).toBeGreaterThan(0);
    const a = peer();
    const b = peer();
    const ca = await a.init(0xaa);
    const cb = await b.init(0xbb);
    expect(ca).not.toBe(cb);
    await a.send(encodeFrames(ca, CtapHidCmd.PING, Uint8Array.of(1, 2, 3))[0]!);
    await b.send(encodeFrames(cb, CtapHidCmd.PING, Uint8Array.of(4))[0]!);
    const ra = parseFrame(await a.next());
    const rb = parseFrame(await b.next());
    expect(ra).toMatchObject({ cid: ca, cmd: CtapHidCmd.PING, bcnt: 3 });
    expect(rb).toMatchObject({ cid: cb, cmd: CtapHidCmd.PING, bcnt: 1 });
    expect(a.queued + b.queued).toBe(0);
  });

  it('serves a CBOR getInfo and accepts a 65-byte datagram with a leading report-ID byte', async () => {
    const { peer } = await start();
    const p = peer();
    const cid = await p.init(1);
    const frame = encodeFrames(cid, CtapHidCmd.CBOR, Uint8Array.of(0x04))[0]!;
    const withId = new Uint8Array(65);
    withId.set(frame, 1);
    await p.send(withId);
    const first = parseFrame(await p.next());
    expect(first).toMatchObject({ cid, cmd: CtapHidCmd.CBOR });
    expect(first.data[0]).toBe(0); // status OK
  });

  it('power cycle drops channels: the old channel gets INVALID_CHANNEL', async () => {
    const { server, peer } = await start();
    const p = peer();
    const cid = await p.init(2);
    server.powerCycle();
    await p.send(encodeFrames(cid, CtapHidCmd.PING, Uint8Array.of(1))[0]!);
    const f = parseFrame(await p.next());
    expect(f).toMatchObject({ cid, cmd: CtapHidCmd.ERROR });
    expect(f.data[0]).toBe(CtapHidErrorCode.INVALID_CHANNEL);
  });

  it('refuses a non-loopback address unless allowRemote', async () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    await expect(UdpCtapHidServer.listen(new VirtualAuthenticator(), { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'SIM_UDP_NON_LOOPBACK' });
    await expect(UdpCtapHidServer.listen(new VirtualAuthenticator(), { host: '0.0.0.0', port: 0 })).rejects.toBeInstanceOf(UdpServerError);
  });
});
