/**
 * `HidConnection` over UDP: each 64-byte CTAPHID report is one datagram (no report-ID byte), for
 * simulators (`keytap simulate --udp`) and HIL rigs that bridge a key to the network.
 * Addressed `udp://HOST:PORT`; one socket per open, connected to the peer so datagrams from
 * anyone else are dropped by the kernel.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { HidConnection } from '../hid-connection.ts';
import { CancelledError, DeviceOpenError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { throwIfAborted } from '../../util/deadline.ts';

/** CTAPHID report size over UDP. */
export const UDP_REPORT_SIZE = 64;

/** Parses `udp://HOST:PORT` (IPv6 hosts in brackets). Throws `RangeError` otherwise. */
export function parseUdpAddress(address: string): { host: string; port: number } {
  const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new RangeError(`not a UDP device address (udp://HOST:PORT): ${address}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** True when `address` names a UDP device. */
export function isUdpAddress(address: string): boolean {
  return address.startsWith('udp://');
}

type Waiter = { resolve: (r: Uint8Array) => void; reject: (e: unknown) => void };

export class UdpHidConnection implements HidConnection {
  readonly inputReportSize = UDP_REPORT_SIZE;
  readonly outputReportSize = UDP_REPORT_SIZE;
  readonly #socket: Socket;
  readonly #queue: Uint8Array[] = [];
  #waiter: Waiter | null = null;
  #error: unknown = null;
  #closed = false;

  private constructor(readonly address: string, socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg) => {
      // Tolerate a peer that echoes the hidapi report-ID byte: 65 bytes starting with 0x00.
      const data = msg.length === UDP_REPORT_SIZE + 1 && msg[0] === 0 ? msg.subarray(1) : msg;
      const report = new Uint8Array(UDP_REPORT_SIZE);
      report.set(data.subarray(0, UDP_REPORT_SIZE));
      const w = this.#waiter;
      if (w) {
        this.#waiter = null;
        w.resolve(report);
      } else this.#queue.push(report);
    });
    socket.on('error', (e) => {
      // ICMP port unreachable on a connected socket surfaces here (ECONNREFUSED): the peer is gone.
      this.#error = e;
      const w = this.#waiter;
      this.#waiter = null;
      w?.reject(new DeviceRemovedError(`UDP device ${address} is not answering (${(e as Error).message})`, { cause: e }));
    });
  }

  /** Opens a socket connected to `udp://HOST:PORT`. */
  static async open(address: string, options: { signal?: AbortSignal } = {}): Promise<UdpHidConnection> {
    throwIfAborted(options.signal, 'UDP open');
    const { host, port } = parseUdpAddress(address);
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.close();
      throw new DeviceOpenError(`cannot reach UDP device ${address}`, { cause: e, details: { address } });
    }
    socket.unref();
    return new UdpHidConnection(address, socket);
  }

  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#check();
    throwIfAborted(signal, 'UDP write');
    if (report.length !== UDP_REPORT_SIZE) throw new RangeError(`UDP write needs exactly ${UDP_REPORT_SIZE} bytes, got ${report.length}`);
    await new Promise<void>((resolve, reject) =>
      this.#socket.send(report, (e) => (e ? reject(new DeviceRemovedError(`send to ${this.address} failed`, { cause: e })) : resolve())),
    );
  }

  read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    try {
      this.#check();
      throwIfAborted(signal, 'UDP read');
    } catch (e) {
      return Promise.reject(e);
    }
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#waiter) return Promise.reject(new Error('UdpHidConnection: concurrent reads are not supported'));
    return new Promise<Uint8Array>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiter = null;
      };
      const timer = setTimeout(() => {
        done();
        reject(new TimeoutError(`no report from ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => {
        done();
        reject(new CancelledError('UDP read was cancelled', { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(new DeviceRemovedError(`UDP connection to ${this.address} was closed`));
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  #check(): void {
    if (this.#closed) throw new DeviceRemovedError(`UDP connection to ${this.address} is closed`);
    if (this.#error) throw new DeviceRemovedError(`UDP device ${this.address} is not answering`, { cause: this.#error });
  }
}
