/**
 * keytap's vpcd card client against a stand-in for vpcd on a real TCP socket (port 0, so it
 * runs beside the real pcscd tests): the wire trace of readers.md §4, TCP splits, reconnect with
 * backoff after vpcd closes, and the same through the python TCP_QUICKACK relay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { VpcdCardClient } from '../../src/sim/vpcd/vpcd-card-client.ts';
import { VirtualBadgeCard } from '../../src/sim/vpcd/virtual-card.ts';
import { findPython } from '../../src/sim/vpcd/quickack-relay.ts';
import { encodeVpcdFrame, VpcdFrameDecoder } from '../../src/protocol/iso7816/vpcd.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';

/** A fake vpcd: accepts card connections and lets the test talk to the current one. */
class FakeVpcd {
  server: Server;
  sockets: Socket[] = [];
  private decoders = new Map<Socket, VpcdFrameDecoder>();
  private inbox: Uint8Array[] = [];
  private waiter: ((m: Uint8Array) => void) | null = null;
  private connWaiter: (() => void) | null = null;
  constructor() {
    this.server = createServer((s) => {
      s.setNoDelay(true);
      this.sockets.push(s);
      const dec = new VpcdFrameDecoder();
      this.decoders.set(s, dec);
      s.on('data', (b) => {
        for (const m of dec.push(new Uint8Array(b))) {
          if (this.waiter) {
            const w = this.waiter;
            this.waiter = null;
            w(m);
          } else this.inbox.push(m);
        }
      });
      s.on('error', () => {});
      this.connWaiter?.();
    });
  }
  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as { port: number }).port)));
  }
  connection(n: number): Promise<void> {
    if (this.sockets.length >= n) return Promise.resolve();
    return new Promise((r) => (this.connWaiter = () => this.sockets.length >= n && r()));
  }
  /** Sends `payload` (framed) to the latest card, optionally split in two writes. */
  send(payload: Uint8Array, splitAt?: number): void {
    const f = encodeVpcdFrame(payload);
    const s = this.sockets[this.sockets.length - 1]!;
    if (splitAt === undefined) s.write(f);
    else {
      s.write(f.subarray(0, splitAt));
      setTimeout(() => s.write(f.subarray(splitAt)), 5);
    }
  }
  reply(): Promise<Uint8Array> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((r) => (this.waiter = r));
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe.each([
  ['plain Node socket', 'off'],
  ['python TCP_QUICKACK relay', 'auto'],
] as const)('VpcdCardClient over a %s', (_name, quickAck) => {
  let vpcd: FakeVpcd;
  let client: VpcdCardClient | null = null;
  afterEach(async () => {
    client?.close();
    await vpcd?.close();
  });

  it.skipIf(quickAck === 'auto' && findPython() === null)('answers the readers.md §4 trace (ATR, power bytes ignored, GET DATA) split across TCP writes', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    client = new VpcdCardClient(new VirtualBadgeCard(fromHex('62322b1f')), { port, quickAck });
    expect(client.relay).toBe(false);
    await client.insert();
    expect(client.relay).toBe(quickAck === 'auto');
    vpcd.send(Uint8Array.of(0x04));
    expect(toHex(await vpcd.reply())).toBe('3b8f8001804f0ca000000306030001000000006a');
    vpcd.send(Uint8Array.of(0x01));
    vpcd.send(Uint8Array.of(0x00));
    vpcd.send(Uint8Array.of(0x01));
    vpcd.send(fromHex('ffca000000'), 1); // length bytes split, as vpcd's two send() calls do
    expect(toHex(await vpcd.reply())).toBe('62322b1f9000');
    vpcd.send(fromHex('00b0000010'));
    expect(toHex(await vpcd.reply())).toBe('6d00');
  });

  it.skipIf(quickAck === 'auto' && findPython() === null)('reconnects with backoff when vpcd drops the card; remove() stops it', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    client = new VpcdCardClient(new VirtualBadgeCard(fromHex('0a0b0c0d')), { port, quickAck, backoffMs: { initial: 20, max: 80 } });
    let connects = 0;
    client.on('connected', () => connects++);
    await client.insert();
    vpcd.sockets[0]!.destroy();
    await vpcd.connection(2);
    await new Promise((r) => client!.connected ? r(null) : client!.once('connected', r));
    expect(connects).toBe(2);
    vpcd.send(fromHex('ffca000000'));
    expect(toHex(await vpcd.reply())).toBe('0a0b0c0d9000');
    client.remove();
    await new Promise((r) => setTimeout(r, 200));
    expect(vpcd.sockets.length).toBe(2);
    expect(client.connected).toBe(false);
  });
});
