/**
 * Serves a recorded device (a trace) as CTAPHID over UDP, the same wire as the virtual
 * authenticator's endpoint (`src/sim/udp-server.ts`): one 64-byte report per datagram, replies
 * to the sender. Loopback only unless `allowRemote`.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { TraceDevice } from './trace-device.ts';
import { TraceReplayer, type TraceReplayerOptions } from './trace-replayer.ts';
import { bindUdp, isLoopbackHost, UdpServerError } from '../udp-server.ts';
import type { Trace } from '../../protocol/trace/trace-model.ts';
import { CTAPHID_REPORT_SIZE, CtapHidCmd, KeepaliveStatus } from '../../protocol/ctaphid/constants.ts';
import { CtapHidDevice } from '../ctaphid-device.ts';
import { TraceTransportReplayer } from './trace-transport.ts';

/**
 * A message-level trace (`level: message`, e.g. recorded over NFC) served behind the simulator's
 * device-side CTAPHID: INIT, channels and framing are live, each CBOR request is matched against
 * the next `=>` line and answered with the recorded reply (keepalive events become keepalives).
 */
class MessageTraceDevice {
  readonly replayer: TraceTransportReplayer;
  readonly #device: CtapHidDevice;
  constructor(trace: Trace, o: TraceUdpServerOptions, send: (r: Uint8Array) => void) {
    const replayer = new TraceTransportReplayer(trace, o.source ? { source: o.source } : {});
    this.replayer = replayer;
    this.#device = new CtapHidDevice(
      {
        async handleCbor(request, opts) {
          try {
            const reply = await replayer.exchange(CtapHidCmd.CBOR, request, {
              onKeepalive: (st) => opts.onKeepalive(st === 'up-needed' ? KeepaliveStatus.UPNEEDED : KeepaliveStatus.PROCESSING),
            });
            if (replayer.remaining === 0) o.onConsumed?.();
            return reply;
          } catch (e) {
            o.onError?.(e as Error);
            return Uint8Array.of(0x7f); // CTAP1_ERR_OTHER: the client fails at once
          }
        },
      },
      { send, capabilities: replayer.capabilities },
    );
  }
  receive(report: Uint8Array): void {
    this.#device.receive(report);
  }
  close(): void {
    this.#device.close();
  }
}

/** Options of `TraceUdpServer.listen`. */
export interface TraceUdpServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 8111. */
  port?: number;
  /** Allow a non-loopback bind. Default false. */
  allowRemote?: boolean;
  /** Start the trace over when a host sends INIT after it was fully served. Default false. */
  loop?: boolean;
  /** File name for error messages. */
  source?: string;
  /** Mismatches and recorded errors. */
  onError?: (e: Error) => void;
  /** The trace was served completely. */
  onConsumed?: () => void;
  /** Replay options (honorTiming, events). */
  replay?: Omit<TraceReplayerOptions, 'source'>;
}

/** A running UDP endpoint serving one trace. */
export class TraceUdpServer {
  #socket: Socket;
  #device: TraceDevice | MessageTraceDevice;
  #peer: RemoteInfo | null = null;
  #closed = false;

  private constructor(
    readonly trace: Trace,
    socket: Socket,
    private readonly o: TraceUdpServerOptions,
  ) {
    this.#socket = socket;
    this.#device = this.#fresh();
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
  }

  static listen(trace: Trace, options: TraceUdpServerOptions = {}): Promise<TraceUdpServer> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 8111;
    if (!isLoopbackHost(host) && !options.allowRemote) {
      return Promise.reject(new UdpServerError('SIM_UDP_NON_LOOPBACK', `refusing to serve a trace on non-loopback address ${host}; pass --allow-remote to do it on purpose`, { details: { host } }));
    }
    return bindUdp(host, port).then((socket) => new TraceUdpServer(trace, socket, options));
  }

  /** The replay in progress (for `assertConsumed()` and `failure`). */
  get replayer(): TraceReplayer | TraceTransportReplayer {
    return this.#device.replayer;
  }

  get address(): { host: string; port: number } {
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#device instanceof MessageTraceDevice) this.#device.close();
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #fresh(): TraceDevice | MessageTraceDevice {
    const send = (r: Uint8Array): void => {
      if (!this.#closed && this.#peer) this.#socket.send(r, this.#peer.port, this.#peer.address);
    };
    if (this.trace.header.level === 'message') return new MessageTraceDevice(this.trace, this.o, send);
    const replayer = new TraceReplayer(this.trace, { ...this.o.replay, ...(this.o.source ? { source: this.o.source } : {}) });
    return new TraceDevice(replayer, {
      send: (r) => {
        if (!this.#closed && this.#peer) this.#socket.send(r, this.#peer.port, this.#peer.address);
      },
      onError: (e) => this.o.onError?.(e),
      onConsumed: () => this.o.onConsumed?.(),
    });
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let report = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    if (report.length === CTAPHID_REPORT_SIZE + 1 && report[0] === 0) report = report.subarray(1);
    if (report.length !== CTAPHID_REPORT_SIZE) return;
    const isInit = report[4] === 0x86 && report[0] === 0xff && report[1] === 0xff && report[2] === 0xff && report[3] === 0xff;
    if (this.o.loop && isInit && this.#device.replayer.remaining === 0) this.#device = this.#fresh();
    this.#peer = rinfo;
    this.#device.receive(report);
  }
}
