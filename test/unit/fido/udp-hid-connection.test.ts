import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { UdpHidConnection, parseUdpAddress } from '../../../src/drivers/udp/udp-hid-connection.ts';

/** A real UDP peer on port 0 that answers each datagram with `reply(datagram)`. */
async function peer(reply: (m: Buffer) => Buffer[] | null): Promise<{ socket: Socket; address: string; got: Buffer[] }> {
  const socket = createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m, rinfo) => {
    got.push(m);
    for (const r of reply(m) ?? []) socket.send(r, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, address: `udp://127.0.0.1:${socket.address().port}`, got };
}

describe('UdpHidConnection', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('parses udp://HOST:PORT and refuses other addresses', () => {
    expect(parseUdpAddress('udp://127.0.0.1:8111')).toEqual({ host: '127.0.0.1', port: 8111 });
    expect(parseUdpAddress('udp://[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseUdpAddress('/dev/hidraw0')).toThrow(RangeError);
    expect(() => parseUdpAddress('udp://host:70000')).toThrow(RangeError);
  });

  it('sends each 64-byte report as one datagram and reads the answers in order', async () => {
    const p = await peer((m) => [Buffer.concat([m.subarray(0, 4), Buffer.alloc(60, 1)]), Buffer.alloc(64, 2)]);
    cleanup.push(() => void p.socket.close());
    const c = await UdpHidConnection.open(p.address);
    cleanup.push(() => c.close());
    await c.write(new Uint8Array(64).fill(9));
    const a = await c.read(2000);
    const b = await c.read(2000);
    expect(p.got[0]!.length).toBe(64);
    expect([a[0], a[4], b[0]]).toEqual([9, 1, 2]);
    await expect(c.write(new Uint8Array(65))).rejects.toThrow(RangeError);
  });

  it('times out a read with TIMEOUT and aborts a read with CANCELLED', async () => {
    const p = await peer(() => null);
    cleanup.push(() => void p.socket.close());
    const c = await UdpHidConnection.open(p.address);
    cleanup.push(() => c.close());
    await expect(c.read(20)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const ac = new AbortController();
    const r = c.read(10_000, ac.signal);
    ac.abort();
    await expect(r).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('fails reads with DEVICE_REMOVED once closed', async () => {
    const p = await peer(() => null);
    cleanup.push(() => void p.socket.close());
    const c = await UdpHidConnection.open(p.address);
    const r = c.read(10_000);
    await c.close();
    await expect(r).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    await expect(c.read(10)).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
  });
});
