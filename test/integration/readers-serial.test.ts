/**
 * Serial badge readers over real PTY pairs (socat): keytap opens one end with serialport, the
 * test plays the reader on the other (readers.md §6 vectors, a virtual PN532 for §7).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { requireService, runs } from '../helpers/services.ts';
import { SerialReaderSource } from '../../src/readers/serial-reader-source.ts';
import type { CardEvent, ReaderSourceDevice } from '../../src/readers/types.ts';
import type { DeviceEvent } from '../../src/drivers/device-source.ts';
import { encodeEm4100Frame } from '../../src/protocol/rfid/em4100.ts';
import { VirtualPn532 } from '../../src/sim/readers/serial-readers.ts';
import { concatBytes, fromHex } from '../../src/util/bytes.ts';
import { runAgent } from '../../src/main.ts';
import { KeytapClient } from '../../src/client/keytap-client.ts';

const gate = await requireService('socat', runs('socat', ['-V']));

// readers.md §6 worked vectors.
const VECTORS: Array<[string, string, string]> = [
  ['RDM6300 62E3086CED', '02 36 32 45 33 30 38 36 43 45 44 30 38 03', '62e3086ced'],
  ['ID-12 0C000621A5', '02 30 43 30 30 30 36 32 31 41 35 38 45 0D 0A 03', '0c000621a5'],
  ['ID-12 0F00A1B2C3', '02 30 46 30 30 41 31 42 32 43 33 44 46 0D 0A 03', '0f00a1b2c3'],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(pick: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pick();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe.skipIf(gate.skip)('serial readers over socat PTY pairs', () => {
  let dir: string;
  let socat: ChildProcess | null = null;
  let source: SerialReaderSource | null = null;
  let cards: CardEvent[];
  let devices: DeviceEvent<ReaderSourceDevice>[];
  let hostEnd: string;
  let readerEnd: string;

  async function startSocat(): Promise<void> {
    socat = spawn('socat', [`pty,raw,echo=0,link=${hostEnd}`, `pty,raw,echo=0,link=${readerEnd}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(hostEnd) && existsSync(readerEnd), 'socat PTYs');
  }
  async function stopSocat(): Promise<void> {
    const s = socat;
    socat = null;
    if (s && s.exitCode === null) {
      s.kill('SIGTERM');
      await new Promise((r) => s.once('exit', r));
    }
  }
  function startSource(protocol: 'em4100' | 'pn532', baudRate: number): SerialReaderSource {
    const s = new SerialReaderSource({ ports: [{ path: hostEnd, protocol, baudRate }], quietMs: 300, pollMs: 30, backoffMs: { initial: 50, max: 200 } });
    s.cards((e) => cards.push(e));
    s.watch((e) => devices.push(e));
    s.start();
    source = s;
    return s;
  }
  /** Writes as the reader would (raw PTY: one write() = one chunk the host may see split or merged). */
  function send(bytes: Uint8Array): void {
    const fd = openSync(readerEnd, 'w');
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keytap-serial-'));
    hostEnd = join(dir, 'ttyHost');
    readerEnd = join(dir, 'ttyReader');
    cards = [];
    devices = [];
    await startSocat();
  });
  afterEach(async () => {
    await source?.close();
    source = null;
    await stopSocat();
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await stopSocat();
  });

  it.each(VECTORS)('%s split at every byte boundary gives one tap in, then a tap out after the quiet period (readers.md §6)', async (_n, hex, uid) => {
    const s = startSource('em4100', 9600);
    await waitFor(() => devices.some((e) => e.type === 'attached'), 'port open');
    const frame = fromHex(hex);
    for (let cut = 1; cut < frame.length; cut++) {
      const before = s.stats(hostEnd)!.frames;
      send(frame.subarray(0, cut));
      await sleep(3);
      send(frame.subarray(cut));
      await waitFor(() => s.stats(hostEnd)!.frames === before + 1, `frame split at ${cut}`);
    }
    expect(s.stats(hostEnd)!.badFrames).toBe(0);
    // Repeated frames while the tag is in the field are debounced into one present.
    expect(cards.filter((e) => e.type === 'card.present').map((e) => e.uid)).toEqual([uid]);
    const removed = await waitFor(() => cards.find((e) => e.type === 'card.removed'), 'card.removed');
    expect(removed.uid).toBe(uid);
    expect(removed.cardType).toBe('EM4100');
    expect(removed.reader).toBe(`serial:${hostEnd}`);
  });

  it('garbage, bad checksums and truncated frames between good frames are counted and dropped', async () => {
    const s = startSource('em4100', 9600);
    await waitFor(() => devices.some((e) => e.type === 'attached'), 'port open');
    const good = encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300');
    const other = encodeEm4100Frame(fromHex('0f00a1b2c3'), 'id12');
    send(concatBytes(fromHex('ff fe 41 0d 0a'), good, encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300', { badChecksum: true }), good.subarray(0, 9), fromHex('13 37'), good));
    await waitFor(() => s.stats(hostEnd)!.frames === 2, 'two good frames');
    const st = s.stats(hostEnd)!;
    expect(st.badFrames).toBe(2);
    expect(st.garbageBytes).toBeGreaterThanOrEqual(5);
    // A different tag replaces the first: removed, then present.
    send(other);
    await waitFor(() => cards.some((e) => e.type === 'card.present' && e.uid === '0f00a1b2c3'), 'second tag');
    expect(cards.map((e) => `${e.type} ${e.uid}`)).toEqual(['card.present 62e3086ced', 'card.removed 62e3086ced', 'card.present 0f00a1b2c3']);
  });

  it('a port that vanishes is reported detached and reopened with backoff when it returns', async () => {
    const s = startSource('em4100', 9600);
    await waitFor(() => devices.some((e) => e.type === 'attached'), 'port open');
    send(encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300'));
    await waitFor(() => cards.some((e) => e.type === 'card.present'), 'present');
    await stopSocat();
    await waitFor(() => devices.some((e) => e.type === 'detached'), 'port detached');
    // The tag cannot outlive its reader.
    expect(cards.map((e) => e.type)).toEqual(['card.present', 'card.removed']);
    expect(await s.list()).toEqual([]);
    await sleep(300); // reopen attempts fail meanwhile (ENOENT), without throwing
    await startSocat();
    await waitFor(() => devices.filter((e) => e.type === 'attached').length === 2, 'port reattached');
    expect(s.stats(hostEnd)!.opens).toBe(2);
    send(encodeEm4100Frame(fromHex('0c000621a5'), 'id12'));
    await waitFor(() => cards.some((e) => e.type === 'card.present' && e.uid === '0c000621a5'), 'present after reopen');
  });

  it('keytap badge read --no-pcsc --serial PATH:em4100 --json prints the tag', async () => {
    const p = spawn(process.execPath, ['bin/keytap.js', 'badge', 'read', '--no-pcsc', '--serial', `${hostEnd}:em4100:9600`, '--json', '--timeout', '15'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((r) => p.once('exit', r));
    // Keep sending, as a reader does while the tag is in the field, until the CLI has read it.
    const frame = encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300');
    const timer = setInterval(() => send(frame), 100);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearInterval(timer);
    }
    expect(JSON.parse(out)).toMatchObject({ uid: '62e3086ced', cardType: 'EM4100', reader: `serial:${hostEnd}` });
  });

  it('keytap serve with a serial reader configured: taps reach a WebSocket client as card.present / card.removed', async () => {
    const tokenFile = join(dir, 'tokens.json');
    const running = await runAgent({ flags: { hid: false, listen: '127.0.0.1:0', socket: false, tokenFile, logLevel: 'silent', readers: { pcsc: false, serial: [`${hostEnd}:em4100:9600`], quietMs: 300 } }, env: {} });
    const c = await KeytapClient.connect({ url: `ws://127.0.0.1:${running.agent.addresses!.tcp[0]!.port}/`, tokenFile, role: 'client', subscribe: ['card'] });
    try {
      const got: Array<{ method: string; params: any }> = [];
      c.on('notification', (method, params) => got.push({ method, params }));
      const reader = await waitFor(async () => (await c.devicesList()).devices.find((d) => d.kind === 'reader' && d.transport === 'serial'), 'serial reader listed');
      expect(reader).toMatchObject({ protocol: 'em4100', path: hostEnd });
      const frame = encodeEm4100Frame(fromHex('0c000621a5'), 'id12');
      for (let i = 0; i < 3; i++) {
        send(frame);
        await sleep(100);
      }
      const removed = await waitFor(() => got.find((n) => n.method === 'card.removed'), 'card.removed');
      expect(got.filter((n) => n.method === 'card.present').map((n) => n.params)).toMatchObject([{ reader: reader.id, uid: '0c000621a5', atr: '', cardType: 'EM4100' }]);
      expect(removed.params).toMatchObject({ reader: reader.id, uid: '0c000621a5' });
    } finally {
      c.close();
      await running.close();
    }
  });

  it('PN532 over UART: wake-up, SAMConfiguration, InListPassiveTarget polling; tap in and out (readers.md §7)', async () => {
    const readerPort = new SerialPort({ path: readerEnd, baudRate: 115200 });
    await new Promise<void>((r, j) => readerPort.once('open', () => r()).once('error', j));
    // ACK and response in one write: the host must keep the second frame (a bug this caught).
    const pn = new VirtualPn532((b) => readerPort.write(Buffer.from(b)), { coalesce: true });
    readerPort.on('data', (b: Buffer) => pn.push(new Uint8Array(b)));
    try {
      startSource('pn532', 115200);
      await waitFor(() => pn.received.includes(0x4a), 'first InListPassiveTarget');
      expect(pn.received[0]).toBe(0x14); // SAMConfiguration first, after the wake-up bytes
      expect(cards).toEqual([]);
      pn.setCard(fromHex('62322b1f'));
      const present = await waitFor(() => cards.find((e) => e.type === 'card.present'), 'present');
      expect(present.uid).toBe('62322b1f');
      await sleep(200); // still in the field: polled again, no second present
      expect(cards.filter((e) => e.type === 'card.present').length).toBe(1);
      pn.setCard(null);
      const removed = await waitFor(() => cards.find((e) => e.type === 'card.removed'), 'removed');
      expect(removed.uid).toBe('62322b1f');
      expect(source!.stats(hostEnd)!.badFrames).toBe(0);
    } finally {
      await new Promise<void>((r) => readerPort.close(() => r()));
    }
  });
});
