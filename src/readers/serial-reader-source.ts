/**
 * Badge readers on serial ports (DESIGN.md §4; readers.md §6, §7): EM4100-style ASCII readers
 * (RDM6300, ID-12/20) that repeat frames while a tag is in the field, and PN532 over UART,
 * polled with InListPassiveTarget. Each configured port is a reader device while it is open;
 * a port that vanishes is reopened with backoff. Repeated frames are debounced into one
 * `card.present`, and `card.removed` follows a quiet period. Bad frames are counted and
 * dropped, never thrown.
 */
import { SerialLink } from '../drivers/serial/serial-link.ts';
import type { SerialPortSpec } from '../drivers/serial/serial-spec.ts';
import type { DeviceEvent } from '../drivers/device-source.ts';
import { Em4100Parser } from '../protocol/rfid/em4100.ts';
import { PresenceTracker, type PresenceEvent } from '../protocol/rfid/presence.ts';
import {
  decodeInListPassiveTargetA,
  encodePn532Command,
  inListPassiveTargetTypeA,
  PN532_WAKEUP,
  Pn532Cmd,
  Pn532FrameDecoder,
  samConfigurationNormal,
  type Pn532Frame,
} from '../protocol/rfid/pn532.ts';
import { toHex } from '../util/bytes.ts';
import { systemClock, type Clock } from '../util/deadline.ts';
import type { CardEvent, ReaderDevice, ReaderSource, ReaderSourceDevice } from './types.ts';

export interface SerialReaderSourceOptions {
  ports: SerialPortSpec[];
  /** No frame for this long = card removed (default 500 ms; readers repeat every ~100–250 ms). */
  quietMs?: number;
  /** PN532: pause between polls (default 100 ms). */
  pollMs?: number;
  /** PN532: how long to wait for an ACK or a response (default 1000 ms). */
  replyTimeoutMs?: number;
  backoffMs?: { initial: number; max: number };
  clock?: Clock;
  log?: (msg: string, details?: Record<string, unknown>) => void;
}

/** Per-port counters (diagnostics, tests). */
export interface SerialPortStats {
  frames: number;
  badFrames: number;
  garbageBytes: number;
  opens: number;
}

interface PortState {
  spec: SerialPortSpec;
  device: ReaderDevice;
  link: SerialLink;
  presence: PresenceTracker;
  removalTimer: NodeJS.Timeout | null;
  em?: Em4100Parser;
  pn?: Pn532Session;
  current: CardEvent | null;
}

export class SerialReaderSource implements ReaderSource {
  private readonly ports: PortState[] = [];
  private readonly attached = new Map<string, ReaderDevice>();
  private readonly deviceListeners = new Set<(e: DeviceEvent<ReaderSourceDevice>) => void>();
  private readonly cardListeners = new Set<(e: CardEvent) => void>();
  private readonly clock: Clock;
  private started = false;

  constructor(private readonly options: SerialReaderSourceOptions) {
    this.clock = options.clock ?? systemClock;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const spec of this.options.ports) this.addPort(spec);
  }

  async list(): Promise<ReaderSourceDevice[]> {
    return [...this.attached.values()];
  }

  watch(listener: (e: DeviceEvent<ReaderSourceDevice>) => void): () => void {
    this.deviceListeners.add(listener);
    return () => this.deviceListeners.delete(listener);
  }

  cards(listener: (e: CardEvent) => void): () => void {
    this.cardListeners.add(listener);
    return () => this.cardListeners.delete(listener);
  }

  /** Counters for the port at `path`. */
  stats(path: string): SerialPortStats | undefined {
    const p = this.ports.find((x) => x.spec.path === path);
    if (!p) return undefined;
    if (p.em) {
      const c = p.em.counters;
      return { frames: c.frames, badFrames: c.badChecksum + c.malformed, garbageBytes: c.garbageBytes, opens: p.link.opens };
    }
    const c = p.pn!.decoder.counters;
    return { frames: c.frames, badFrames: c.badLengthChecksum + c.badDataChecksum, garbageBytes: c.garbageBytes, opens: p.link.opens };
  }

  async close(): Promise<void> {
    for (const p of this.ports) {
      if (p.removalTimer) clearTimeout(p.removalTimer);
      p.pn?.stop();
      await p.link.close();
    }
    this.deviceListeners.clear();
    this.cardListeners.clear();
  }

  private addPort(spec: SerialPortSpec): void {
    const device: ReaderDevice = {
      id: `serial:${spec.path}`,
      kind: 'reader',
      transport: 'serial',
      name: `${spec.protocol === 'em4100' ? 'EM4100 reader' : 'PN532'} on ${spec.path}`,
      protocol: spec.protocol,
      path: spec.path,
    };
    const st: PortState = {
      spec,
      device,
      presence: new PresenceTracker(this.options.quietMs ?? 500),
      removalTimer: null,
      current: null,
      link: null as unknown as SerialLink,
    };
    if (spec.protocol === 'em4100') st.em = new Em4100Parser();
    st.link = new SerialLink({
      path: spec.path,
      baudRate: spec.baudRate,
      backoffMs: this.options.backoffMs,
      onData: (chunk) => this.onData(st, chunk),
      onState: (open, error) => this.onState(st, open, error),
    });
    if (spec.protocol === 'pn532') {
      st.pn = new Pn532Session(st.link, {
        pollMs: this.options.pollMs ?? 100,
        replyTimeoutMs: this.options.replyTimeoutMs ?? 1000,
        onUid: (uid) => this.seen(st, uid),
        onNoCard: () => this.apply(st, st.presence.tick(this.clock())),
        log: this.options.log,
      });
    }
    this.ports.push(st);
    st.link.start();
  }

  private onState(st: PortState, open: boolean, error?: string): void {
    if (open) {
      this.attached.set(st.device.id, st.device);
      this.emitDevice({ type: 'attached', device: st.device });
      st.pn?.start();
    } else {
      this.options.log?.('serial port lost; reopening', { path: st.spec.path, error });
      st.pn?.stop();
      this.apply(st, st.presence.clear());
      this.attached.delete(st.device.id);
      this.emitDevice({ type: 'detached', device: st.device });
    }
  }

  private onData(st: PortState, chunk: Uint8Array): void {
    if (st.em) {
      for (const f of st.em.push(chunk)) this.seen(st, f.uid);
    } else st.pn?.push(chunk);
  }

  private seen(st: PortState, uid: string): void {
    this.apply(st, st.presence.seen(uid, this.clock()));
    this.armRemoval(st);
  }

  private armRemoval(st: PortState): void {
    if (st.removalTimer) clearTimeout(st.removalTimer);
    st.removalTimer = null;
    const at = st.presence.nextDeadline();
    if (at === null) return;
    st.removalTimer = setTimeout(() => {
      st.removalTimer = null;
      this.apply(st, st.presence.tick(this.clock()));
      this.armRemoval(st);
    }, Math.max(0, at - this.clock()));
  }

  private apply(st: PortState, events: PresenceEvent[]): void {
    for (const e of events) {
      const time = new Date(this.clock()).toISOString();
      if (e.type === 'present') {
        const ev: CardEvent = {
          type: 'card.present',
          reader: st.device.id,
          readerName: st.device.name,
          uid: e.uid,
          atr: '',
          cardType: st.spec.protocol === 'em4100' ? 'EM4100' : 'ISO 14443 A',
          standard: st.spec.protocol === 'em4100' ? 'Low frequency contactless (125 kHz)' : 'ISO 14443 A',
          time,
        };
        st.current = ev;
        this.emitCard(ev);
      } else if (st.current) {
        this.emitCard({ ...st.current, type: 'card.removed', time });
        st.current = null;
      }
    }
  }

  private emitDevice(e: DeviceEvent<ReaderSourceDevice>): void {
    for (const l of [...this.deviceListeners]) safe(() => l(e));
  }
  private emitCard(e: CardEvent): void {
    for (const l of [...this.cardListeners]) safe(() => l(e));
  }
}

/**
 * PN532 HSU conversation (readers.md §7; libnfc pn532_uart.c): wake-up, SAMConfiguration,
 * RFConfiguration MaxRetries (so InListPassiveTarget returns when no card is there), then poll
 * InListPassiveTarget + InRelease. Every command waits for the ACK, then the response (code+1);
 * a NACK, an error frame or a timeout restarts the step, never the process.
 */
class Pn532Session {
  readonly decoder = new Pn532FrameDecoder();
  private running = false;
  private gen = 0;
  private waiter: ((f: Pn532Frame) => void) | null = null;

  constructor(
    private readonly link: SerialLink,
    private readonly o: { pollMs: number; replyTimeoutMs: number; onUid(uid: string): void; onNoCard(): void; log?: (m: string, d?: Record<string, unknown>) => void },
  ) {}

  // Frames wait in an inbox: an ACK and its response often arrive in one chunk.
  private inbox: Pn532Frame[] = [];

  push(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (this.waiter) this.waiter(f);
      else if (this.inbox.length < 16) this.inbox.push(f);
    }
  }

  start(): void {
    this.running = true;
    const gen = ++this.gen;
    void this.loop(gen);
  }

  stop(): void {
    this.running = false;
    this.gen++;
    this.waiter = null;
    this.inbox = [];
  }

  private alive(gen: number): boolean {
    return this.running && gen === this.gen;
  }

  private next(ms: number): Promise<Pn532Frame | null> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, ms);
      this.waiter = (f) => {
        clearTimeout(t);
        this.waiter = null;
        resolve(f);
      };
    });
  }

  /** Sends `frame`; resolves with the response data, or null on NACK/error/timeout. */
  private async command(frame: Uint8Array, code: number): Promise<Uint8Array | null> {
    this.inbox = [];
    if (!this.link.write(frame)) return null;
    const ack = await this.next(this.o.replyTimeoutMs);
    if (ack?.kind !== 'ack') return null;
    for (;;) {
      const f = await this.next(this.o.replyTimeoutMs);
      if (f === null || f.kind === 'error' || f.kind === 'nack') return null;
      if (f.kind === 'info' && f.code === code + 1) return f.data;
      // Anything else (a stray ACK, an old response) is skipped.
    }
  }

  private async loop(gen: number): Promise<void> {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while (this.alive(gen)) {
      this.link.write(PN532_WAKEUP);
      await sleep(20);
      if (!this.alive(gen)) return;
      const sam = await this.command(samConfigurationNormal(), Pn532Cmd.SAMConfiguration);
      if (sam === null) {
        this.o.log?.('PN532 did not answer SAMConfiguration; retrying');
        await sleep(this.o.pollMs * 5);
        continue;
      }
      // RFConfiguration item 5 (MaxRetries): ATR 0xFF, PSL 0x01, passive activation 0x02.
      await this.command(encodePn532Command(0x32, [0x05, 0xff, 0x01, 0x02]), 0x32);
      let failures = 0;
      while (this.alive(gen) && failures < 3) {
        const r = await this.command(inListPassiveTargetTypeA(), Pn532Cmd.InListPassiveTarget);
        if (!this.alive(gen)) return;
        if (r === null) {
          failures++;
          continue;
        }
        failures = 0;
        let targets: ReturnType<typeof decodeInListPassiveTargetA> = [];
        try {
          targets = decodeInListPassiveTargetA(r);
        } catch {
          // A truncated target list is a bad frame: count as no card this round.
        }
        if (targets.length > 0) {
          this.o.onUid(toHex(targets[0]!.uid));
          await this.command(encodePn532Command(Pn532Cmd.InRelease, [0x00]), Pn532Cmd.InRelease);
        } else this.o.onNoCard();
        await sleep(this.o.pollMs);
      }
    }
  }
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // A listener's bug must not stop the reader.
  }
}
