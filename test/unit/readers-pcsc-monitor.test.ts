/**
 * PcscMonitor's state handling with an injected pcsclite (the real one is exercised against
 * pcscd in test/integration/pcsc-readers.test.ts): pcscd down is a state with retries, an RPC
 * transport error tears readers down and rebuilds the context (reference/environment.md).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { PcscMonitor, type PcscEvent } from '../../src/drivers/pcsc/pcsc-monitor.ts';

const PRESENT = 0x20;
const EMPTY = 0x10;

class FakeReader extends EventEmitter {
  state = 0;
  connected = false;
  SCARD_SHARE_SHARED = 2;
  SCARD_LEAVE_CARD = 0;
  SCARD_STATE_PRESENT = PRESENT;
  SCARD_STATE_EMPTY = EMPTY;
  SCARD_STATE_MUTE = 0x200;
  SCARD_PROTOCOL_T0 = 1;
  SCARD_PROTOCOL_T1 = 2;
  closed = false;
  disconnects: number[] = [];
  constructor(readonly name: string) {
    super();
  }
  connect(_o: unknown, cb: (err: unknown, p: number) => void) {
    this.connected = true;
    cb(null, 2);
  }
  disconnect(d: number, cb: (err: unknown) => void) {
    this.connected = false;
    this.disconnects.push(d);
    cb(null);
  }
  transmit(data: Buffer, _l: number, _p: number, cb: (err: unknown, r: Buffer) => void) {
    cb(null, Buffer.from([...data.subarray(0, 2), 0x90, 0x00]));
  }
  close() {
    this.closed = true;
  }
}

describe('PcscMonitor', () => {
  let events: PcscEvent[];
  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
  });
  afterEach(() => vi.useRealTimers());

  it('pcscd down at start: reports the state once, retries with backoff, then sees readers and cards', async () => {
    let up = false;
    let ctx: EventEmitter & { close(): void } = null as never;
    let calls = 0;
    const m = new PcscMonitor({
      backoffMs: { initial: 100, max: 400 },
      pcsclite: () => {
        calls++;
        if (!up) throw new Error('SCardEstablishContext error: Service not available.(0x8010001d)');
        ctx = Object.assign(new EventEmitter(), { close() {} });
        return ctx;
      },
    });
    m.watch((e) => events.push(e));
    m.start();
    expect(events).toEqual([{ type: 'service', up: false, error: 'SCardEstablishContext error: Service not available.(0x8010001d)' }]);
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 400);
    expect(calls).toBe(5); // 0, 100, 300, 700, 1100 ms
    expect(events.length).toBe(1); // "down" is reported once, not per retry
    up = true;
    await vi.advanceTimersByTimeAsync(400);
    expect(m.serviceUp).toBe(true);
    const r = new FakeReader('ACS ACR122U PICC Interface 00 00');
    ctx.emit('reader', r);
    r.emit('status', { state: EMPTY });
    r.emit('status', { state: PRESENT, atr: Buffer.from('3b8180018080', 'hex') });
    r.emit('status', { state: PRESENT, atr: Buffer.from('3b8180018080', 'hex') }); // polled again: no second insert
    expect(events.slice(1).map((e) => e.type)).toEqual(['service', 'reader-attached', 'card-inserted']);
    const conn = await m.connect('ACS ACR122U PICC Interface 00 00');
    expect(Array.from(await conn.transmit(Uint8Array.of(0xff, 0xca, 0, 0, 0)))).toEqual([0xff, 0xca, 0x90, 0x00]);
    await conn.close();
    expect(r.disconnects).toEqual([0]); // LEAVE_CARD
    await m.close();
  });

  it('an RPC transport error (pcscd killed) removes cards and readers and rebuilds the context', async () => {
    const contexts: Array<EventEmitter & { close(): void; closed: boolean }> = [];
    const m = new PcscMonitor({
      backoffMs: { initial: 50, max: 50 },
      pcsclite: () => {
        const c = Object.assign(new EventEmitter(), { closed: false, close() {
          c.closed = true;
          c.emit('error', new Error('Command cancelled.(0x80100002)'));
        } });
        contexts.push(c);
        return c;
      },
    });
    m.watch((e) => events.push(e));
    m.start();
    const r = new FakeReader('Virtual PCD 00 00');
    contexts[0]!.emit('reader', r);
    r.emit('status', { state: PRESENT, atr: Buffer.from('3b80800101', 'hex') });
    events = [];
    contexts[0]!.emit('error', new Error('SCardGetStatusChange error: RPC transport error.(0x80100013)'));
    // The dying reader's own error must not throw (no uncaught "error" event).
    r.emit('error', new Error('RPC transport error'));
    expect(events.map((e) => e.type)).toEqual(['card-removed', 'reader-detached', 'service']);
    expect(contexts[0]!.closed).toBe(true);
    expect(m.list()).toEqual([]);
    await expect(m.connect('Virtual PCD 00 00')).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
    await vi.advanceTimersByTimeAsync(50);
    expect(contexts.length).toBe(2);
    expect(m.serviceUp).toBe(true);
    const r2 = new FakeReader('Virtual PCD 00 00');
    contexts[1]!.emit('reader', r2);
    expect(m.list()).toEqual([{ name: 'Virtual PCD 00 00', present: false }]);
    await m.close();
  });

  it('a card swapped between two pcscd polls (new event count in the high word, or new ATR) is a removal then an insertion', async () => {
    let ctx: EventEmitter & { close(): void } = null as never;
    const m = new PcscMonitor({ pcsclite: () => (ctx = Object.assign(new EventEmitter(), { close() {} })) });
    m.watch((e) => events.push(e));
    m.start();
    const r = new FakeReader('R');
    ctx.emit('reader', r);
    const atr = Buffer.from('3b8f8001804f0ca000000306030001000000006a', 'hex');
    r.emit('status', { state: (3 << 16) | PRESENT, atr });
    r.emit('status', { state: (3 << 16) | PRESENT | 0x100, atr }); // INUSE by another client: same card
    expect(events.filter((e) => e.type.startsWith('card')).map((e) => e.type)).toEqual(['card-inserted']);
    r.emit('status', { state: (5 << 16) | PRESENT, atr }); // removed and re-inserted within one poll
    r.emit('status', { state: (5 << 16) | PRESENT, atr: Buffer.from('3b8180018080', 'hex') }); // a different card
    expect(events.filter((e) => e.type.startsWith('card')).map((e) => e.type)).toEqual(['card-inserted', 'card-removed', 'card-inserted', 'card-removed', 'card-inserted']);
    await m.close();
  });

  it('connections to one reader are serialised', async () => {
    let ctx: EventEmitter & { close(): void } = null as never;
    const m = new PcscMonitor({ pcsclite: () => (ctx = Object.assign(new EventEmitter(), { close() {} })) });
    m.start();
    const r = new FakeReader('R');
    ctx.emit('reader', r);
    const a = await m.connect('R');
    let second = false;
    const pb = m.connect('R').then((c) => {
      second = true;
      return c;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(second).toBe(false);
    await a.close();
    const b = await pb;
    expect(second).toBe(true);
    await b.close();
    await m.close();
  });
});
