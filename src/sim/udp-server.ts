/**
 * Exposes a virtual authenticator as CTAPHID over UDP (DESIGN.md §7): each datagram is one
 * 64-byte output report, each reply one 64-byte input report, sent to the address and port
 * the channel's requests came from. 8111 is the port SoloKeys' simulator made customary.
 *
 * Several hosts may talk to the same key at once, as on USB: replies are routed by channel
 * id (INIT replies to the sender of the INIT), so each host sees only its own channel plus
 * broadcast INIT replies to itself.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { CtapHidDevice, MAX_CHANNELS, type CborHandler } from './ctaphid-device.ts';
import type { DeviceProfile } from './profiles.ts';
import { BROADCAST_CID, CTAPHID_REPORT_SIZE, CtapHidCmd } from '../protocol/ctaphid/constants.ts';
import { readU32BE } from '../util/bytes.ts';
import { KeytapError } from '../protocol/errors.ts';

/** The customary simulator port (SoloKeys' UDP simulator). */
export const DEFAULT_UDP_PORT = 8111;

/** What the server exposes: a CBOR handler with a profile and a power switch. */
export interface SimulatedAuthenticator extends CborHandler {
  readonly profile: DeviceProfile;
  /** Drops power-cycle state (soft PIN block, key agreement, token) and restarts the reset window. */
  powerCycle(): void;
}

/** Options of `UdpCtapHidServer.listen`. */
export interface UdpServerOptions {
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 8111. */
  port?: number;
  /** Allow a non-loopback address (the virtual key then answers the network). Default false. */
  allowRemote?: boolean;
  /** CTAPHID transaction timeout passed to the device (ms). Default 3000. */
  transactionTimeoutMs?: number;
}

/** Binding was refused or failed. */
export class UdpServerError extends KeytapError {
  constructor(code: 'SIM_UDP_NON_LOOPBACK' | 'SIM_UDP_BIND_FAILED', message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
  }
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** A running UDP CTAPHID endpoint for one virtual authenticator. */
export class UdpCtapHidServer {
  readonly device: CtapHidDevice;
  #socket: Socket;
  #peerByCid = new Map<number, RemoteInfo>();
  #current: RemoteInfo | null = null;
  #closed = false;

  private constructor(
    readonly authenticator: SimulatedAuthenticator,
    socket: Socket,
    options: UdpServerOptions,
  ) {
    this.#socket = socket;
    const { deviceVersion, capabilities } = authenticator.profile.ctaphid;
    this.device = new CtapHidDevice(authenticator, {
      send: (r) => this.#send(r),
      deviceVersion,
      capabilities,
      keepaliveIntervalMs: authenticator.profile.behaviour.keepaliveIntervalMs,
      ...(options.transactionTimeoutMs !== undefined ? { transactionTimeoutMs: options.transactionTimeoutMs } : {}),
    });
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
  }

  /**
   * Binds the socket and starts serving. Refuses a non-loopback `host` unless `allowRemote`
   * (`UdpServerError` SIM_UDP_NON_LOOPBACK).
   */
  static listen(authenticator: SimulatedAuthenticator, options: UdpServerOptions = {}): Promise<UdpCtapHidServer> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? DEFAULT_UDP_PORT;
    if (!isLoopbackHost(host) && !options.allowRemote) {
      return Promise.reject(
        new UdpServerError('SIM_UDP_NON_LOOPBACK', `refusing to expose the virtual authenticator on non-loopback address ${host}; pass --allow-remote to do it on purpose`, {
          details: { host },
        }),
      );
    }
    return bindUdp(host, port).then((socket) => new UdpCtapHidServer(authenticator, socket, options));
  }

  /** The bound address (the real port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  /** Power-cycles the key: the authenticator's volatile state and every CTAPHID channel. */
  powerCycle(): void {
    this.device.powerCycle();
    this.#peerByCid.clear();
    this.authenticator.powerCycle();
  }

  /** Stops serving and closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.device.close();
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let report = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    // Tolerate a leading report-ID byte (hidapi habit): 65 bytes starting with 0.
    if (report.length === CTAPHID_REPORT_SIZE + 1 && report[0] === 0) report = report.subarray(1);
    if (report.length !== CTAPHID_REPORT_SIZE) return;
    const cid = readU32BE(report, 0);
    if (cid !== BROADCAST_CID) this.#remember(cid, rinfo);
    this.#current = rinfo;
    try {
      this.device.receive(new Uint8Array(report));
    } finally {
      this.#current = null;
    }
  }

  /** Routes replies on `cid` to `peer`; bounded like the device's channel table. */
  #remember(cid: number, peer: RemoteInfo): void {
    this.#peerByCid.delete(cid);
    this.#peerByCid.set(cid, peer);
    if (this.#peerByCid.size > MAX_CHANNELS) this.#peerByCid.delete(this.#peerByCid.keys().next().value!);
  }

  #send(report: Uint8Array): void {
    if (this.#closed) return;
    const cid = readU32BE(report, 0);
    let to: RemoteInfo | null | undefined;
    if (cid === BROADCAST_CID) {
      to = this.#current;
      // INIT reply: remember who owns the channel it allocates (nonce[8] then CID[4] at data offset 7).
      if (to && report[4] === (0x80 | CtapHidCmd.INIT)) this.#remember(readU32BE(report, 7 + 8), to);
    } else {
      to = this.#peerByCid.get(cid) ?? this.#current;
    }
    if (!to) return;
    this.#socket.send(report, to.port, to.address);
  }
}

/**
 * Binds a UDP socket on `host:port` (port 0 picks a free one). Rejects with `UdpServerError`
 * SIM_UDP_BIND_FAILED. Later socket errors (an ICMP port unreachable to a vanished client)
 * are not fatal to a server, so they are swallowed once bound.
 */
export function bindUdp(host: string, port: number): Promise<Socket> {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      socket.close();
      reject(new UdpServerError('SIM_UDP_BIND_FAILED', `cannot bind UDP ${host}:${port}: ${e.message}`, { cause: e, details: { host, port } }));
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
