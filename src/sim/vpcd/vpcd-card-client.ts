/**
 * Presents a `VirtualCard` to a real pcscd through vsmartcard's vpcd (reference/readers.md §4):
 * connect to vpcd's port (35963 = "Virtual PCD 00 00", 35964 = "... 00 01"), answer 04 with
 * the ATR, ignore 00/01/02 (forwarded to the card's power hooks), answer every C-APDU. Closing
 * the connection removes the card; `remove()`/`insert()` tap it out and in. When vpcd closes
 * or is not there (pcscd restarting) the client reconnects with backoff.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { classifyVpcdMessage, encodeVpcdFrame, VpcdFrameDecoder } from '../../protocol/iso7816/vpcd.ts';
import { encodeResponseApdu } from '../../protocol/iso7816/apdu.ts';
import { StatusWord } from '../../protocol/iso7816/status-words.ts';
import type { VirtualCard } from './virtual-card.ts';
import { findPython, spawnQuickAckRelay } from './quickack-relay.ts';

export interface VpcdCardClientOptions {
  /** vpcd host (default 127.0.0.1). */
  host?: string;
  /** vpcd port (default 35963, the first slot). */
  port?: number;
  /** Reconnect after vpcd closes or refuses (default true). */
  reconnect?: boolean;
  /** First and largest reconnect delay in ms (default 100 and 2000). */
  backoffMs?: { initial: number; max: number };
  /**
   * 'auto' (default): own the socket through the python TCP_QUICKACK relay when a python3 is
   * found (≈0.1 ms per APDU instead of ≈44 ms); 'off': plain Node socket with setNoDelay.
   */
  quickAck?: 'auto' | 'off';
}

type Link = { write(b: Uint8Array): void; destroy(): void };

/**
 * Events: `connected`, `disconnected`, `error` (Error; reconnect continues),
 * `apdu` ({ command, response, ms }) after each answered APDU.
 */
export class VpcdCardClient extends EventEmitter {
  private link: Link | null = null;
  private wanted = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly host: string;
  private readonly port: number;
  private readonly opts: VpcdCardClientOptions;
  /** Whether the current link goes through the quick-ACK relay. */
  relay = false;
  connected = false;

  constructor(
    private card: VirtualCard,
    options: VpcdCardClientOptions = {},
  ) {
    super();
    this.opts = options;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 35963;
    this.backoff = options.backoffMs?.initial ?? 100;
  }

  /** `host:port` of vpcd. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Taps the card in: connects (and keeps reconnecting) until `remove()` or `close()`. Resolves once connected. */
  insert(): Promise<void> {
    this.wanted = true;
    if (!this.link && !this.timer) this.connect();
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.once('connected', () => resolve()));
  }

  /** Taps the card out: closes the connection (vpcd reports the card removed). */
  remove(): void {
    this.wanted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.link?.destroy();
    this.link = null;
    if (this.connected) {
      this.connected = false;
      this.emit('disconnected');
    }
  }

  /** Swaps the card; if one is in the field it is removed and the new one inserted. */
  async setCard(card: VirtualCard): Promise<void> {
    const wasIn = this.wanted;
    this.remove();
    this.card = card;
    if (wasIn) await this.insert();
  }

  close(): void {
    this.remove();
    this.removeAllListeners('connected');
  }

  private connect(): void {
    const python = this.opts.quickAck === 'off' ? null : findPython();
    const decoder = new VpcdFrameDecoder();
    const onData = (chunk: Uint8Array): void => {
      for (const msg of decoder.push(chunk)) this.queue = this.queue.then(() => this.handle(msg, link));
    };
    let link: Link;
    const onOpen = (): void => {
      this.backoff = this.opts.backoffMs?.initial ?? 100;
      this.connected = true;
      this.emit('connected');
    };
    const onClose = (): void => {
      if (this.link !== link) return;
      this.link = null;
      if (this.connected) {
        this.connected = false;
        this.emit('disconnected');
      }
      if (this.wanted && this.opts.reconnect !== false) {
        const delay = this.backoff;
        this.backoff = Math.min(this.backoff * 2, this.opts.backoffMs?.max ?? 2000);
        this.timer = setTimeout(() => {
          this.timer = null;
          if (this.wanted) this.connect();
        }, delay);
        this.timer.unref?.();
      }
    };
    if (python) {
      this.relay = true;
      const child: ChildProcessWithoutNullStreams = spawnQuickAckRelay(python, this.host, this.port);
      link = {
        write: (b) => child.stdin.write(b),
        destroy: () => {
          child.stdin.destroy();
          child.kill();
        },
      };
      let err = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (t: string) => {
        err += t;
        if (err.includes('connected\n') && !this.connected && this.link === link) {
          err = '';
          onOpen();
        }
      });
      child.stdout.on('data', (b: Buffer) => onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
      child.stdin.on('error', () => {});
      child.on('error', (e) => {
        if (this.listenerCount('error') > 0) this.emit('error', e);
      });
      child.on('exit', onClose);
    } else {
      this.relay = false;
      const sock: Socket = createConnection({ host: this.host, port: this.port });
      sock.setNoDelay(true);
      link = { write: (b) => sock.write(b), destroy: () => sock.destroy() };
      sock.on('connect', onOpen);
      sock.on('data', (b: Buffer) => onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
      sock.on('error', (e) => {
        if (this.listenerCount('error') > 0) this.emit('error', e);
      });
      sock.on('close', onClose);
    }
    this.link = link;
  }

  private async handle(msg: Uint8Array, link: Link): Promise<void> {
    if (this.link !== link) return;
    const m = classifyVpcdMessage(msg);
    switch (m.kind) {
      case 'get-atr':
        link.write(encodeVpcdFrame(this.card.atr));
        return;
      case 'power-on':
        this.card.powerOn?.();
        return;
      case 'power-off':
        this.card.powerOff?.();
        return;
      case 'reset':
        this.card.reset?.();
        return;
      case 'control':
        return;
      case 'apdu': {
        const t0 = performance.now();
        let response: Uint8Array;
        try {
          response = await this.card.transmit(m.apdu);
        } catch {
          response = encodeResponseApdu(new Uint8Array(0), StatusWord.NO_PRECISE_DIAGNOSIS);
        }
        if (this.link !== link) return;
        link.write(encodeVpcdFrame(response));
        this.emit('apdu', { command: m.apdu, response, ms: performance.now() - t0 });
      }
    }
  }
}
