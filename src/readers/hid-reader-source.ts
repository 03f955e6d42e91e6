/**
 * USB HID badge readers (DESIGN.md §4): RFIDeas pcProx-style readers polled over feature
 * reports (`8F` card data, then `8E` bit count; readers.md §9), and keyboard-wedge readers whose
 * boot keyboard reports are decoded on key-down edges until Enter (readers.md §10). node-hid has
 * no hotplug events, so matching interfaces are re-enumerated every `rescanMs`.
 */
import { listHidReaders, openHidReader, type HidReaderHandle, type HidReaderInfo } from '../drivers/hid-readers/node-hid-reader.ts';
import type { DeviceEvent } from '../drivers/device-source.ts';
import { decodePcProxCard, pcProxFeatureRequest, PcProxCommand, PCPROX_PID, PCPROX_VID } from '../protocol/rfid/pcprox.ts';
import { BootKeyboardDecoder } from '../protocol/rfid/boot-keyboard.ts';
import { PresenceTracker, type PresenceEvent } from '../protocol/rfid/presence.ts';
import { systemClock, type Clock } from '../util/deadline.ts';
import type { CardEvent, ReaderDevice, ReaderSource, ReaderSourceDevice } from './types.ts';
import { readerAllowed, type ReaderRules } from './reader-rules.ts';

export interface HidReaderConfig {
  protocol: 'pcprox' | 'keyboard';
  /** `VVVV:PPPP` hex. Default for pcprox 0C27:3BFA; required for keyboard (never every keyboard). */
  vidPid?: string;
}

export interface HidReaderSourceOptions {
  readers: HidReaderConfig[];
  rescanMs?: number;
  /** pcProx poll period (default 250 ms). */
  pollMs?: number;
  /** pcProx: no card for this long = removed (default 500 ms). Keyboard wedge: removal follows each line after this. */
  quietMs?: number;
  rules?: ReaderRules;
  clock?: Clock;
  log?: (msg: string, details?: Record<string, unknown>) => void;
  /** Injected I/O (tests); default node-hid. */
  io?: { list: typeof listHidReaders; open: typeof openHidReader };
}

interface Open {
  info: HidReaderInfo;
  config: HidReaderConfig;
  device: ReaderDevice;
  handle: HidReaderHandle;
  presence: PresenceTracker;
  current: CardEvent | null;
  timer: NodeJS.Timeout | null;
  stop: () => void;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export class HidReaderSource implements ReaderSource {
  private readonly open = new Map<string, Open>();
  private readonly opening = new Set<string>();
  private readonly deviceListeners = new Set<(e: DeviceEvent<ReaderSourceDevice>) => void>();
  private readonly cardListeners = new Set<(e: CardEvent) => void>();
  private rescanTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly clock: Clock;
  private readonly io: { list: typeof listHidReaders; open: typeof openHidReader };
  /** Bad pcProx replies and wrong-size keyboard reports (diagnostics). */
  badReports = 0;

  constructor(private readonly options: HidReaderSourceOptions) {
    this.clock = options.clock ?? systemClock;
    this.io = options.io ?? { list: listHidReaders, open: openHidReader };
  }

  start(): void {
    if (this.rescanTimer || this.closed) return;
    void this.rescan();
    this.rescanTimer = setInterval(() => void this.rescan(), this.options.rescanMs ?? 2000);
  }

  async list(): Promise<ReaderSourceDevice[]> {
    return [...this.open.values()].map((o) => o.device);
  }
  watch(listener: (e: DeviceEvent<ReaderSourceDevice>) => void): () => void {
    this.deviceListeners.add(listener);
    return () => this.deviceListeners.delete(listener);
  }
  cards(listener: (e: CardEvent) => void): () => void {
    this.cardListeners.add(listener);
    return () => this.cardListeners.delete(listener);
  }

  /** Enumerates once and opens/forgets devices (also run by the timer). */
  async rescan(): Promise<void> {
    let all: HidReaderInfo[];
    try {
      all = await this.io.list();
    } catch (e) {
      this.options.log?.('HID enumeration failed', { error: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (this.closed) return;
    const seen = new Set<string>();
    for (const info of all) {
      const config = this.options.readers.find((c) => matchConfig(c, info));
      if (!config) continue;
      const name = [info.manufacturer, info.product].filter(Boolean).join(' ') || `HID ${hex4(info.vendorId)}:${hex4(info.productId)}`;
      if (!readerAllowed({ name, vendorId: info.vendorId, productId: info.productId }, this.options.rules)) continue;
      seen.add(info.path);
      if (!this.open.has(info.path) && !this.opening.has(info.path)) void this.attach(info, config, name);
    }
    for (const [path, o] of this.open) if (!seen.has(path)) this.detach(o);
  }

  private async attach(info: HidReaderInfo, config: HidReaderConfig, name: string): Promise<void> {
    this.opening.add(info.path);
    let handle: HidReaderHandle;
    try {
      handle = await this.io.open(info.path);
    } catch (e) {
      this.options.log?.('cannot open HID reader', { path: info.path, error: e instanceof Error ? e.message : String(e) });
      return;
    } finally {
      this.opening.delete(info.path);
    }
    if (this.closed) {
      await handle.close().catch(() => {});
      return;
    }
    const device: ReaderDevice = {
      id: `hid:${hex4(info.vendorId)}:${hex4(info.productId)}:${info.serialNumber ?? info.path}`,
      kind: 'reader',
      transport: 'hid',
      name,
      protocol: config.protocol,
      path: info.path,
      vendorId: info.vendorId,
      productId: info.productId,
    };
    const o: Open = { info, config, device, handle, presence: new PresenceTracker(this.options.quietMs ?? 500), current: null, timer: null, stop: () => {} };
    this.open.set(info.path, o);
    this.emitDevice({ type: 'attached', device });
    if (config.protocol === 'pcprox') this.pollPcProx(o);
    else this.listenKeyboard(o);
  }

  private detach(o: Open): void {
    if (this.open.get(o.info.path) !== o) return;
    this.open.delete(o.info.path);
    o.stop();
    if (o.timer) clearTimeout(o.timer);
    this.apply(o, o.presence.clear());
    void o.handle.close().catch(() => {});
    this.emitDevice({ type: 'detached', device: o.device });
  }

  private pollPcProx(o: Open): void {
    let stopped = false;
    o.stop = () => (stopped = true);
    const read = async (cmd: number): Promise<Uint8Array> => {
      await o.handle.sendFeatureReport(pcProxFeatureRequest(cmd));
      const r = await o.handle.getFeatureReport(0, 9);
      // hidapi returns the report id first when asked for 9 bytes.
      return r.length === 9 ? r.subarray(1) : r;
    };
    const tick = async (): Promise<void> => {
      if (stopped) return;
      try {
        // Order matters: 8F first, or 8E is never set (readers.md §9).
        const data = await read(PcProxCommand.CARD_DATA);
        const bits = await read(PcProxCommand.CARD_BITS);
        const card = data.length === 8 && bits.length === 8 ? decodePcProxCard(data, bits) : null;
        if (data.length !== 8 || bits.length !== 8) this.badReports++;
        const now = this.clock();
        if (card) this.apply(o, o.presence.seen(card.uid, now), card.wiegand26);
        else this.apply(o, o.presence.tick(now));
      } catch (e) {
        this.options.log?.('pcProx read failed; dropping the device until it is enumerated again', { path: o.info.path, error: e instanceof Error ? e.message : String(e) });
        this.detach(o);
        return;
      }
      if (!stopped) o.timer = setTimeout(() => void tick(), this.options.pollMs ?? 250);
    };
    void tick();
  }

  private listenKeyboard(o: Open): void {
    const dec = new BootKeyboardDecoder();
    const unsubscribe = o.handle.onReport(
      (report) => {
        // Some wedges prefix a report id: 9 bytes with the id first.
        const r = report.length === 9 ? report.subarray(1) : report;
        const before = dec.badReports;
        const line = dec.push(r);
        if (dec.badReports !== before) this.badReports++;
        if (line === null || line.length === 0) return;
        const uid = line.trim().toLowerCase();
        // A wedge types once per tap: present now, removed after the quiet period.
        this.apply(o, o.presence.seen(uid, this.clock()));
        if (o.timer) clearTimeout(o.timer);
        o.timer = setTimeout(() => this.apply(o, o.presence.clear()), this.options.quietMs ?? 500);
      },
      () => this.detach(o),
    );
    o.stop = unsubscribe;
  }

  private apply(o: Open, events: PresenceEvent[], w26?: { facility: number; cardNumber: number }): void {
    for (const e of events) {
      const time = new Date(this.clock()).toISOString();
      if (e.type === 'present') {
        const ev: CardEvent = {
          type: 'card.present',
          reader: o.device.id,
          readerName: o.device.name,
          uid: e.uid,
          atr: '',
          cardType: o.config.protocol === 'keyboard' ? 'Keyboard wedge' : w26 ? 'H10301 (Wiegand 26)' : 'Proximity card',
          standard: o.config.protocol === 'keyboard' ? 'Unknown' : 'Low frequency contactless (125 kHz)',
          time,
          ...(w26 ? { facility: w26.facility, cardNumber: w26.cardNumber } : {}),
        };
        o.current = ev;
        this.emitCard(ev);
      } else if (o.current) {
        this.emitCard({ ...o.current, type: 'card.removed', time });
        o.current = null;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = null;
    for (const o of [...this.open.values()]) this.detach(o);
    this.deviceListeners.clear();
    this.cardListeners.clear();
  }

  private emitDevice(e: DeviceEvent<ReaderSourceDevice>): void {
    for (const l of [...this.deviceListeners]) safe(() => l(e));
  }
  private emitCard(e: CardEvent): void {
    for (const l of [...this.cardListeners]) safe(() => l(e));
  }
}

function matchConfig(c: HidReaderConfig, info: HidReaderInfo): boolean {
  const vp = c.vidPid ?? (c.protocol === 'pcprox' ? `${hex4(PCPROX_VID)}:${hex4(PCPROX_PID)}` : undefined);
  if (!vp) return false;
  const [v, p] = vp.toLowerCase().split(':');
  return parseInt(v!, 16) === info.vendorId && (p === '*' || parseInt(p!, 16) === info.productId);
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // A listener's bug must not stop the reader.
  }
}
