/**
 * PC/SC discovery and card connections over `pcsclite` (reference/environment.md):
 * - runs on the main thread only (the addon aborts inside worker threads);
 * - `pcsclite()` throws synchronously while pcscd is down: that is a state (`service: down`),
 *   retried with backoff, not a crash;
 * - when pcscd dies the context emits `RPC transport error (0x80100013)` and each reader
 *   `error` + `end`: every reader is reported gone and the context is rebuilt;
 * - cards connect SHARED and disconnect with LEAVE_CARD (nfc-pcsc's behaviour, which other
 *   PC/SC clients on the machine expect).
 */
import { createRequire } from 'node:module';
import type { ApduTransport, TransmitOptions } from '../../protocol/iso7816/apdu-transport.ts';
import { CancelledError, DeviceBusyError, DeviceOpenError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { throwIfAborted } from '../../util/deadline.ts';

/** The slice of pcsclite's typings keytap uses (so tests can inject a fake). */
export interface PcscReaderHandle {
  name: string;
  state: number;
  connected: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_LEAVE_CARD: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_EMPTY: number;
  SCARD_STATE_MUTE: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  on(type: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners(type?: string): unknown;
  connect(options: { share_mode?: number; protocol?: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, response: Buffer) => void): void;
  close(): void;
}
export interface PcscContextHandle {
  on(type: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners(type?: string): unknown;
  close(): void;
}
export type PcscliteFactory = () => PcscContextHandle;

export type PcscEvent =
  | { type: 'service'; up: boolean; error?: string }
  | { type: 'reader-attached'; name: string }
  | { type: 'reader-detached'; name: string }
  | { type: 'card-inserted'; name: string; atr: Uint8Array }
  | { type: 'card-removed'; name: string };

export interface PcscMonitorOptions {
  /** Backoff while pcscd is unavailable: first and largest delay in ms (default 100 and 500). */
  backoffMs?: { initial: number; max: number };
  /** Injected pcsclite (tests); default `require('pcsclite')`. */
  pcsclite?: PcscliteFactory;
}

const require_ = createRequire(import.meta.url);

type ReaderState = { handle: PcscReaderHandle; present: boolean; lock: Promise<void>; holders: number; events: number; atr: string };

/** Watches pcscd; emits reader and card events; opens card connections. */
export class PcscMonitor {
  private ctx: PcscContextHandle | null = null;
  private readers = new Map<string, ReaderState>();
  private listeners = new Set<(e: PcscEvent) => void>();
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private closed = false;
  private started = false;
  private reportedDown = false;
  /** True while a context to pcscd is established. */
  serviceUp = false;
  /** Contexts built so far (1 + reconnects); diagnostics. */
  contexts = 0;

  constructor(private readonly options: PcscMonitorOptions = {}) {
    this.backoff = options.backoffMs?.initial ?? 100;
  }

  /** Subscribes to events; returns the unsubscribe function. */
  watch(listener: (e: PcscEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Names of the readers known now, with whether a card is present. */
  list(): Array<{ name: string; present: boolean }> {
    return [...this.readers.entries()].map(([name, r]) => ({ name, present: r.present }));
  }

  /** Starts (idempotent). Never throws when pcscd is down: it retries. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.establish();
  }

  private emit(e: PcscEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // A listener's bug must not stop discovery.
      }
    }
  }

  private establish(): void {
    if (this.closed) return;
    let ctx: PcscContextHandle;
    try {
      const factory = this.options.pcsclite ?? (require_('pcsclite') as PcscliteFactory);
      ctx = factory();
    } catch (e) {
      this.retry(e);
      return;
    }
    this.ctx = ctx;
    this.contexts++;
    // pcsclite starts its PnP loop on the next tick; errors arrive as events.
    ctx.on('error', (err: unknown) => this.onContextError(ctx, err));
    ctx.on('reader', (r: PcscReaderHandle) => this.onReader(ctx, r));
    if (!this.serviceUp) {
      this.serviceUp = true;
      this.reportedDown = false;
      this.backoff = this.options.backoffMs?.initial ?? 100;
      this.emit({ type: 'service', up: true });
    }
  }

  private retry(err: unknown): void {
    if (this.serviceUp || !this.reportedDown) {
      this.serviceUp = false;
      this.reportedDown = true;
      this.emit({ type: 'service', up: false, error: errText(err) });
    }
    if (this.closed || this.timer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.backoffMs?.max ?? 500);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.establish();
    }, delay);
  }

  private onContextError(ctx: PcscContextHandle, err: unknown): void {
    if (ctx !== this.ctx) return;
    // RPC transport error / service not available: pcscd went away. Tear down and rebuild.
    this.teardown();
    this.retry(err);
  }

  private teardown(): void {
    const ctx = this.ctx;
    this.ctx = null;
    for (const [name, r] of this.readers) {
      r.handle.removeAllListeners();
      // The dying reader still emits `error` (RPC transport error); an EventEmitter without an
      // `error` listener would throw it as an uncaught exception.
      r.handle.on('error', () => {});
      if (r.present) this.emit({ type: 'card-removed', name });
      this.emit({ type: 'reader-detached', name });
      try {
        r.handle.close();
      } catch {
        /* already gone */
      }
    }
    this.readers.clear();
    if (ctx) {
      ctx.removeAllListeners();
      // close() makes pcsclite emit "Command cancelled (0x80100002)": harmless, swallow it.
      ctx.on('error', () => {});
      try {
        ctx.close();
      } catch {
        /* already closed */
      }
    }
  }

  private onReader(ctx: PcscContextHandle, r: PcscReaderHandle): void {
    if (ctx !== this.ctx) return;
    const name = r.name;
    const st: ReaderState = { handle: r, present: false, lock: Promise.resolve(), holders: 0, events: -1, atr: '' };
    this.readers.set(name, st);
    this.emit({ type: 'reader-attached', name });
    r.on('error', () => {
      // Reader errors precede `end` when pcscd dies; the context error drives recovery.
    });
    r.on('status', (status: { state: number; atr?: Buffer }) => {
      if (this.readers.get(name) !== st) return;
      const present = (status.state & r.SCARD_STATE_PRESENT) !== 0 && (status.state & r.SCARD_STATE_MUTE) === 0;
      // pcsc-lite keeps a per-reader insert/remove counter in the high word of dwEventState: a
      // card swapped between two 400 ms polls shows up only as a new count (or a new ATR).
      const events = status.state >>> 16;
      const atrHex = status.atr ? status.atr.toString('hex') : '';
      const swapped = present && st.present && ((st.events >= 0 && events !== st.events && events !== 0) || (atrHex !== '' && atrHex !== st.atr));
      if (swapped) {
        st.present = false;
        this.emit({ type: 'card-removed', name });
      }
      if (present && !st.present) {
        st.present = true;
        st.atr = atrHex;
        this.emit({ type: 'card-inserted', name, atr: status.atr ? new Uint8Array(status.atr) : new Uint8Array(0) });
      } else if (!present && st.present) {
        st.present = false;
        this.emit({ type: 'card-removed', name });
      }
      st.events = events;
    });
    r.on('end', () => {
      if (this.readers.get(name) !== st) return;
      this.readers.delete(name);
      if (st.present) this.emit({ type: 'card-removed', name });
      this.emit({ type: 'reader-detached', name });
    });
  }

  /**
   * Connects to the card in `reader` (SHARED, T=0|T=1) for one transaction; calls on the same
   * reader are serialised. Throws `DeviceRemovedError` when the reader or card is gone.
   */
  async connect(reader: string, options: TransmitOptions = {}): Promise<PcscCardConnection> {
    const st = this.readers.get(reader);
    if (!st) throw new DeviceRemovedError(`reader ${JSON.stringify(reader)} is not present`);
    throwIfAborted(options.signal, 'card connect');
    // Serialise: wait for the previous holder of this reader. When the reader is free, go
    // straight to SCardConnect without a microtask hop (a card tap races other PC/SC clients).
    let unlock!: () => void;
    const prev = st.lock;
    st.lock = new Promise<void>((r) => (unlock = r));
    const mustWait = st.holders > 0;
    st.holders++;
    const release = (): void => {
      st.holders--;
      unlock();
    };
    if (mustWait) {
      try {
        await withDeadline(prev, options, 'waiting for the reader');
      } catch (e) {
        void prev.then(release);
        throw e;
      }
    }
    if (this.readers.get(reader) !== st) {
      release();
      throw new DeviceRemovedError(`reader ${JSON.stringify(reader)} went away`);
    }
    const r = st.handle;
    try {
      const protocol = await new Promise<number>((resolve, reject) =>
        r.connect({ share_mode: r.SCARD_SHARE_SHARED, protocol: r.SCARD_PROTOCOL_T0 | r.SCARD_PROTOCOL_T1 }, (err, p) => (err ? reject(err) : resolve(p))),
      );
      return new PcscCardConnection(r, protocol, release);
    } catch (e) {
      release();
      const msg = errText(e);
      if (/0x8010000B|sharing violation/i.test(msg)) throw new DeviceBusyError(`card in ${reader} is in exclusive use`, { cause: e });
      if (/0x80100069|0x8010000C|removed|no smart card/i.test(msg)) throw new DeviceRemovedError(`card left ${reader}`, { cause: e });
      throw new DeviceOpenError(`cannot connect to the card in ${reader}: ${msg}`, { cause: e });
    }
  }

  /** Stops watching and closes the context. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.teardown();
    this.listeners.clear();
  }
}

/** One card connection (an `ApduTransport`); `close()` disconnects with LEAVE_CARD. */
export class PcscCardConnection implements ApduTransport {
  private open = true;
  constructor(
    private readonly reader: PcscReaderHandle,
    private readonly protocol: number,
    private readonly release: () => void,
  ) {}

  get descriptor(): string {
    return this.reader.name;
  }

  async transmit(apdu: Uint8Array, options: TransmitOptions = {}): Promise<Uint8Array> {
    if (!this.open) throw new DeviceRemovedError('card connection is closed');
    throwIfAborted(options.signal, 'APDU');
    options.deadline?.check('APDU');
    const p = new Promise<Uint8Array>((resolve, reject) =>
      // 258 covers any short APDU's reply (256 data + SW); 65538 an extended one. A smaller
      // receive buffer keeps pcsc-lite's copy small on the hot path (the UID read of a tap).
      this.reader.transmit(Buffer.from(apdu), isExtended(apdu) ? 65538 : 258, this.protocol, (err, res) => (err ? reject(err) : resolve(new Uint8Array(res)))),
    );
    try {
      return await p;
    } catch (e) {
      throw new DeviceRemovedError(`APDU to ${this.reader.name} failed: ${errText(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    try {
      await new Promise<void>((resolve) => this.reader.disconnect(this.reader.SCARD_LEAVE_CARD, () => resolve()));
    } finally {
      this.release();
    }
  }
}

// ISO 7816-4 §5.1: an extended APDU has a 00 byte after the header followed by two length bytes.
function isExtended(apdu: Uint8Array): boolean {
  return apdu.length >= 7 && apdu[4] === 0x00;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function withDeadline<T>(p: Promise<T>, options: TransmitOptions, what: string): Promise<T> {
  if (!options.signal && !options.deadline) return p;
  return new Promise<T>((resolve, reject) => {
    const ms = options.deadline ? options.deadline.remaining() : Infinity;
    const t = Number.isFinite(ms)
      ? setTimeout(() => reject(new TimeoutError(`${what}: deadline exceeded`)), ms)
      : null;
    const onAbort = (): void => {
      if (t) clearTimeout(t);
      reject(new CancelledError(`${what}: cancelled`));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        if (t) clearTimeout(t);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        if (t) clearTimeout(t);
        reject(e);
      },
    );
  });
}
