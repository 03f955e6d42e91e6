/**
 * One serial port kept open: opened with backoff, reopened with backoff after it vanishes
 * (USB unplug, PTY closed), never throwing into the agent. Bytes go to `onData`; open/close
 * transitions to `onState`.
 */
import { SerialPort } from 'serialport';

export interface SerialLinkOptions {
  path: string;
  baudRate: number;
  /** First and largest reopen delay in ms (default 100 and 2000). */
  backoffMs?: { initial: number; max: number };
  onData(chunk: Uint8Array): void;
  onState(open: boolean, error?: string): void;
}

export class SerialLink {
  private port: SerialPort | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private backoff: number;
  /** Opens so far (1 + reopens). */
  opens = 0;
  isOpen = false;

  constructor(private readonly o: SerialLinkOptions) {
    this.backoff = o.backoffMs?.initial ?? 100;
  }

  start(): void {
    if (!this.port && !this.timer && !this.closed) this.open();
  }

  /** Writes bytes (PN532 commands); false when the port is not open. */
  write(bytes: Uint8Array): boolean {
    if (!this.port || !this.isOpen) return false;
    this.port.write(Buffer.from(bytes));
    return true;
  }

  private open(): void {
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, autoOpen: false });
    this.port = port;
    port.on('data', (b: Buffer) => this.o.onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    port.on('error', (e: Error) => this.lost(port, e.message));
    port.on('close', () => this.lost(port));
    port.open((err) => {
      if (this.port !== port) return;
      if (err) {
        this.port = null;
        this.schedule(err.message);
        return;
      }
      this.opens++;
      this.isOpen = true;
      this.backoff = this.o.backoffMs?.initial ?? 100;
      this.o.onState(true);
    });
  }

  private lost(port: SerialPort, error?: string): void {
    if (this.port !== port) return;
    this.port = null;
    port.removeAllListeners('data');
    port.on('error', () => {});
    if (port.isOpen) port.close(() => {});
    if (this.isOpen) {
      this.isOpen = false;
      this.o.onState(false, error);
    }
    this.schedule(error);
  }

  private schedule(_error?: string): void {
    if (this.closed || this.timer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.backoffMs?.max ?? 2000);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.open();
    }, delay);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const port = this.port;
    this.port = null;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => {});
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
    }
    this.isOpen = false;
  }
}
