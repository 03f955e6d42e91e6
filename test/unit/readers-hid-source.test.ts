/**
 * HID badge readers with node-hid mocked at the module boundary (no hidraw on this machine),
 * driven by the readers.md §9/§10 worked vectors.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';

class FakeHid extends EventEmitter {
  last = 0;
  closed = false;
  card: { data: number[]; bits: number[] } | null = null;
  sent: number[][] = [];
  async sendFeatureReport(data: number[]) {
    this.sent.push(data);
    this.last = data[1]!;
    return data.length;
  }
  async getFeatureReport(_id: number, len: number) {
    const body = this.last === 0x8f ? (this.card?.data ?? [0, 0, 0, 0, 0, 0, 0, 0]) : this.last === 0x8e ? (this.card?.bits ?? [0, 0, 0, 0, 0, 0, 0, 0]) : [0, 0, 0, 0, 0, 0, 0, 0];
    return Buffer.from(len === 9 ? [0, ...body] : body);
  }
  async close() {
    this.closed = true;
  }
}

const hid = vi.hoisted(() => ({ devices: [] as any[], opened: new Map<string, any>() }));
vi.mock('node-hid', () => {
  const devicesAsync = async () => hid.devices;
  const HIDAsync = {
    open: async (path: string) => {
      const d = hid.opened.get(path);
      if (!d) throw new Error('No HID devices with requested VID/PID found in the system.');
      return d;
    },
  };
  return { devicesAsync, HIDAsync, default: { devicesAsync, HIDAsync } };
});

const { HidReaderSource } = await import('../../src/readers/hid-reader-source.ts');
type CardEvent = import('../../src/readers/types.ts').CardEvent;

const PCPROX = { path: '/dev/hidraw3', vendorId: 0x0c27, productId: 0x3bfa, serialNumber: 'A1', manufacturer: 'RFIDeas', product: 'pcProx', release: 1, interface: 0 };
const WEDGE = { path: '/dev/hidraw4', vendorId: 0x1234, productId: 0x5678, manufacturer: 'Acme', product: 'Badge Wedge', release: 1, interface: 0 };

describe('HID badge readers (node-hid mocked)', () => {
  let cards: CardEvent[];
  beforeEach(() => {
    vi.useFakeTimers();
    hid.devices = [];
    hid.opened.clear();
    cards = [];
  });
  afterEach(() => vi.useRealTimers());

  it('pcProx: 8F then 8E, ED 6C 08 / 18 18 decode to H10301 FC 8 CN 27885, once per arrival (readers.md §9)', async () => {
    const dev = new FakeHid();
    hid.devices = [PCPROX];
    hid.opened.set(PCPROX.path, dev);
    const s = new HidReaderSource({ readers: [{ protocol: 'pcprox' }], pollMs: 100, quietMs: 300 });
    const attached: string[] = [];
    s.watch((e) => attached.push(`${e.type} ${e.device.id}`));
    s.cards((e) => cards.push(e));
    s.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(attached).toEqual(['attached hid:0c27:3bfa:A1']);
    dev.card = { data: [0xed, 0x6c, 0x08, 0, 0, 0, 0, 0], bits: [0x18, 0x18, 0, 0, 0, 0, 0, 0] };
    await vi.advanceTimersByTimeAsync(1000);
    expect(cards.length).toBe(1);
    expect(cards[0]).toMatchObject({ type: 'card.present', uid: '086ced', facility: 8, cardNumber: 27885, cardType: 'H10301 (Wiegand 26)' });
    // Commands go out as report id 0 + 8 bytes, 8F before 8E.
    expect(dev.sent.slice(0, 2).map((d) => d[1])).toEqual([0x8f, 0x8e]);
    expect(dev.sent[0]!.length).toBe(9);
    dev.card = null;
    await vi.advanceTimersByTimeAsync(1000);
    expect(cards.map((e) => e.type)).toEqual(['card.present', 'card.removed']);
    // Unplugged: gone from the next enumeration.
    hid.devices = [];
    await vi.advanceTimersByTimeAsync(2100);
    expect(attached).toEqual(['attached hid:0c27:3bfa:A1', 'detached hid:0c27:3bfa:A1']);
    expect(dev.closed).toBe(true);
    await s.close();
  });

  it('keyboard wedge: "12345⏎" as boot keyboard reports is one tap (readers.md §10)', async () => {
    const dev = new FakeHid();
    hid.devices = [WEDGE, PCPROX];
    hid.opened.set(WEDGE.path, dev);
    const s = new HidReaderSource({ readers: [{ protocol: 'keyboard', vidPid: '1234:5678' }], quietMs: 300 });
    s.cards((e) => cards.push(e));
    s.start();
    await vi.advanceTimersByTimeAsync(10);
    expect((await s.list()).map((d) => d.id)).toEqual(['hid:1234:5678:/dev/hidraw4']);
    const z = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const k of [0x1e, 0x1f, 0x20, 0x21, 0x22, 0x28]) {
      dev.emit('data', Buffer.from([0, 0, k, 0, 0, 0, 0, 0]));
      dev.emit('data', Buffer.from(z));
    }
    expect(cards).toMatchObject([{ type: 'card.present', uid: '12345', cardType: 'Keyboard wedge', reader: 'hid:1234:5678:/dev/hidraw4' }]);
    await vi.advanceTimersByTimeAsync(400);
    expect(cards.map((e) => e.type)).toEqual(['card.present', 'card.removed']);
    // A read error (unplug) detaches the reader.
    dev.emit('error', new Error('could not read from HID device'));
    expect(await s.list()).toEqual([]);
    await s.close();
  });

  it('a keyboard is never taken for a reader unless its VID:PID is configured', async () => {
    hid.devices = [WEDGE];
    hid.opened.set(WEDGE.path, new FakeHid());
    const s = new HidReaderSource({ readers: [{ protocol: 'keyboard' }, { protocol: 'pcprox' }] });
    s.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(await s.list()).toEqual([]);
    await s.close();
  });

  it('deny rules win over configuration (a YubiKey by VID)', async () => {
    const yk = { ...WEDGE, path: '/dev/hidraw5', vendorId: 0x1050, productId: 0x0407 };
    hid.devices = [yk];
    hid.opened.set(yk.path, new FakeHid());
    const s = new HidReaderSource({ readers: [{ protocol: 'keyboard', vidPid: '1050:0407' }] });
    s.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(await s.list()).toEqual([]);
    await s.close();
  });
});
