/**
 * The device side of CTAPHID (CTAP 2.1 §11.2) as an explicit state machine, in the manner of
 * OpenSK's `CtapHid`: 64-byte output reports go in through `receive()`, input reports come out
 * through the `send` callback. Framing uses the same codec as the host
 * (`protocol/ctaphid/framing.ts`).
 *
 * States:
 * - `idle`: no transaction; an init packet starts one.
 * - `receiving`: continuation packets of one channel's message are being collected; init
 *   packets from other channels get CHANNEL_BUSY; a gap longer than the transaction timeout
 *   gets MSG_TIMEOUT (§11.2.5).
 * - `processing`: a CBOR request is with the authenticator; keepalives go out every
 *   `keepaliveIntervalMs` (§11.2.9.1.5); CANCEL on that channel aborts it (reply 0x2D,
 *   §11.2.9.1.5), other channels get CHANNEL_BUSY.
 * INIT is served in every state: on the broadcast channel it allocates a channel, on an
 * allocated channel it resynchronises that channel, abandoning its transaction (§11.2.9.1.3).
 */
import { encodeFrames, parseFrame, type CtapHidFrame } from '../protocol/ctaphid/framing.ts';
import { CtapHidAssembler, type AssembleResult } from '../protocol/ctaphid/assembler.ts';
import { decodeInitRequest, encodeInitResponse } from '../protocol/ctaphid/init.ts';
import { encodeKeepalive } from '../protocol/ctaphid/keepalive.ts';
import {
  BROADCAST_CID,
  CTAPHID_REPORT_SIZE,
  CTAPHID_TRANSACTION_TIMEOUT_MS,
  CtapHidCmd,
  CtapHidErrorCode,
  KeepaliveStatus,
  RESERVED_CID,
} from '../protocol/ctaphid/constants.ts';
import { systemClock, type Clock } from '../util/deadline.ts';

/** Keepalive status the authenticator reports while busy: 1 PROCESSING, 2 UPNEEDED (§11.2.9.1.5). */
export type KeepaliveStatusValue = (typeof KeepaliveStatus)[keyof typeof KeepaliveStatus];

/** What the device needs from the authenticator behind it. */
export interface CborHandler {
  /**
   * Handles one CBOR message (`command ‖ params`) and resolves with `status ‖ body`.
   * `signal` aborts on CTAPHID_CANCEL (the handler then answers 0x2D KEEPALIVE_CANCEL);
   * `onKeepalive` switches the keepalive status (UPNEEDED while waiting for a touch).
   */
  handleCbor(request: Uint8Array, options: { signal: AbortSignal; onKeepalive: (status: KeepaliveStatusValue) => void }): Promise<Uint8Array>;
}

/** Options of `CtapHidDevice`. */
export interface CtapHidDeviceOptions {
  /** Receives every input report (64 bytes, no report ID). */
  send: (report: Uint8Array) => void;
  /** INIT reply version bytes (major, minor, build). Default [1, 0, 0]. */
  deviceVersion?: [number, number, number];
  /** INIT reply capability flags. Default 0x0D (WINK | CBOR | NMSG). */
  capabilities?: number;
  /** Keepalive period while processing (OpenSK KEEPALIVE_DELAY_MS). Default 100. */
  keepaliveIntervalMs?: number;
  /** A message must be complete this long after its init packet, else MSG_TIMEOUT (§11.2.5). Default 3000. */
  transactionTimeoutMs?: number;
  /** Clock for the transaction timeout. Default `Date.now` (vitest fake timers fake it too). */
  clock?: Clock;
  /** Called on CTAPHID_WINK. */
  onWink?: () => void;
}

type Processing = { kind: 'processing'; cid: number; abort: AbortController; keepalive: NodeJS.Timeout; status: KeepaliveStatusValue };

/** Highest channel id handed out before wrapping (0 and the broadcast id are never used). */
const MAX_CID = 0xfffffffe;
/**
 * Channels remembered at once. A long-running simulator serves a new channel per client
 * process; the oldest is forgotten beyond this (its owner then gets INVALID_CHANNEL and
 * re-INITs, as after a re-insert).
 */
export const MAX_CHANNELS = 1024;

/**
 * A virtual CTAPHID device. Feed it output reports with `receive(report)`; it answers through
 * `options.send`. `powerCycle()` forgets every channel, as unplugging does.
 */
export class CtapHidDevice {
  #processing: Processing | null = null;
  #assembler: CtapHidAssembler;
  #expiryTimer: NodeJS.Timeout | null = null;
  #channels = new Set<number>();
  #nextCid = 1;
  readonly #send: (report: Uint8Array) => void;
  readonly #version: [number, number, number];
  readonly #caps: number;
  readonly #keepaliveMs: number;
  readonly #txTimeoutMs: number;
  readonly #clock: Clock;
  readonly #onWink: (() => void) | undefined;

  constructor(
    private readonly handler: CborHandler,
    options: CtapHidDeviceOptions,
  ) {
    this.#send = options.send;
    this.#version = options.deviceVersion ?? [1, 0, 0];
    this.#caps = options.capabilities ?? 0x0d;
    this.#keepaliveMs = options.keepaliveIntervalMs ?? 100;
    this.#txTimeoutMs = options.transactionTimeoutMs ?? CTAPHID_TRANSACTION_TIMEOUT_MS;
    this.#clock = options.clock ?? systemClock;
    this.#onWink = options.onWink;
    // Device side of the shared assembler: all channels, one message at a time (exclusive).
    this.#assembler = new CtapHidAssembler({ timeoutMs: this.#txTimeoutMs, exclusive: true });
  }

  /** The state machine's current state (for tests and traces). */
  get state(): 'idle' | 'receiving' | 'processing' {
    if (this.#processing) return 'processing';
    return this.#assembler.pendingChannels.length > 0 ? 'receiving' : 'idle';
  }

  /** Channels allocated since the last power cycle. */
  get channels(): ReadonlySet<number> {
    return this.#channels;
  }

  /** Drops every channel and abandons any transaction (USB re-insert). */
  powerCycle(): void {
    this.close();
    this.#channels.clear();
    this.#nextCid = 1;
  }

  /** Abandons any transaction and stops timers. */
  close(): void {
    this.#assembler.clear();
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    this.#abandonProcessing();
  }

  /** One output report from the host (64 bytes, without the report-ID byte). */
  receive(report: Uint8Array): void {
    let frame: CtapHidFrame;
    try {
      frame = parseFrame(report);
    } catch {
      return; // shorter than a CTAPHID header: no channel to answer on
    }
    const { cid } = frame;
    if (frame.type === 'cont') {
      // Continuations outside a message, from unknown channels or while processing are
      // ignored: there is no message they belong to (busy replies go to init packets only).
      if (!this.#channels.has(cid) || !this.#assembler.pendingChannels.includes(cid)) return;
      return this.#handle(this.#assembler.pushFrame(frame, this.#clock()));
    }
    const isInit = frame.cmd === CtapHidCmd.INIT;
    if (cid === RESERVED_CID) return this.#error(cid, CtapHidErrorCode.INVALID_CHANNEL);
    if (cid !== BROADCAST_CID && !this.#channels.has(cid)) return this.#error(cid, CtapHidErrorCode.INVALID_CHANNEL);
    const busy = this.#processing;
    if (busy && !isInit) {
      if (cid === busy.cid && frame.cmd === CtapHidCmd.CANCEL) {
        // §11.2.9.1.5: the authenticator answers the pending CBOR request with
        // CTAP2_ERR_KEEPALIVE_CANCEL; the device relays the abort.
        busy.abort.abort();
        return;
      }
      return this.#error(cid, CtapHidErrorCode.CHANNEL_BUSY);
    }
    if (frame.cmd === CtapHidCmd.CANCEL && !this.#assembler.pendingChannels.includes(cid)) return; // nothing pending: no reply
    if (isInit && busy && busy.cid === cid) this.#abandonProcessing(); // resync (§11.2.9.1.3)
    this.#handle(this.#assembler.pushFrame(frame, this.#clock()));
  }

  #handle(r: AssembleResult): void {
    for (const x of r.expired) this.#error(x.cid, x.error.hidError);
    switch (r.kind) {
      case 'complete':
        return this.#dispatch(r.message.cid, r.message.cmd, r.message.payload);
      case 'pending':
        return this.#armExpiry();
      case 'error':
        if (r.error.code === 'CTAPHID_SPURIOUS_CONTINUATION') return;
        return this.#error(r.cid, r.error.hidError);
      case 'ignored-foreign-channel':
        return;
    }
  }

  #armExpiry(): void {
    if (this.#expiryTimer) return;
    const t = setTimeout(() => {
      this.#expiryTimer = null;
      for (const x of this.#assembler.expire(this.#clock())) this.#error(x.cid, x.error.hidError);
      if (this.#assembler.pendingChannels.length > 0) this.#armExpiry();
    }, this.#txTimeoutMs + 1);
    t.unref?.();
    this.#expiryTimer = t;
  }

  #init(cid: number, payload: Uint8Array): void {
    let nonce: Uint8Array;
    try {
      nonce = decodeInitRequest(payload);
    } catch {
      return this.#error(cid, CtapHidErrorCode.INVALID_LEN);
    }
    let newCid = cid;
    if (cid === BROADCAST_CID) {
      newCid = this.#nextCid;
      this.#nextCid = this.#nextCid >= MAX_CID ? 1 : this.#nextCid + 1;
      this.#channels.add(newCid);
      if (this.#channels.size > MAX_CHANNELS) this.#channels.delete(this.#channels.values().next().value!);
    }
    const [versionMajor, versionMinor, versionBuild] = this.#version;
    this.#reply(cid, CtapHidCmd.INIT, encodeInitResponse({ nonce, cid: newCid, versionMajor, versionMinor, versionBuild, capabilities: this.#caps }));
  }

  #dispatch(cid: number, cmd: number, payload: Uint8Array): void {
    switch (cmd) {
      case CtapHidCmd.INIT:
        return this.#init(cid, payload);
      case CtapHidCmd.PING:
        return this.#reply(cid, CtapHidCmd.PING, payload);
      case CtapHidCmd.WINK:
        if (payload.length !== 0) return this.#error(cid, CtapHidErrorCode.INVALID_LEN);
        this.#onWink?.();
        return this.#reply(cid, CtapHidCmd.WINK, new Uint8Array(0));
      case CtapHidCmd.CBOR:
        if (payload.length === 0) return this.#error(cid, CtapHidErrorCode.INVALID_LEN);
        return this.#startCbor(cid, payload);
      case CtapHidCmd.CANCEL:
        return; // a CANCEL with nothing pending has no reply
      default:
        // MSG (the simulator has no CTAP1; capabilities say NMSG), LOCK, vendor and unknown.
        return this.#error(cid, CtapHidErrorCode.INVALID_CMD);
    }
  }

  #startCbor(cid: number, request: Uint8Array): void {
    const abort = new AbortController();
    const keepalive = setInterval(() => {
      const st = this.#processing;
      if (st && st.abort === abort) this.#reply(cid, CtapHidCmd.KEEPALIVE, encodeKeepalive(st.status));
    }, this.#keepaliveMs);
    const state: Processing = { kind: 'processing', cid, abort, keepalive, status: KeepaliveStatus.PROCESSING };
    this.#processing = state;
    const onKeepalive = (status: KeepaliveStatusValue): void => {
      state.status = status;
    };
    let result: Promise<Uint8Array>;
    try {
      result = this.handler.handleCbor(request, { signal: abort.signal, onKeepalive });
    } catch (e) {
      result = Promise.reject(e);
    }
    const done = (reply: () => void): void => {
      clearInterval(keepalive);
      if (this.#processing !== state) return; // abandoned by resync or power cycle
      this.#processing = null;
      reply();
    };
    result.then(
      (response) => done(() => this.#reply(cid, CtapHidCmd.CBOR, response)),
      () => done(() => this.#error(cid, CtapHidErrorCode.OTHER)),
    );
  }

  #abandonProcessing(): void {
    const st = this.#processing;
    if (!st) return;
    clearInterval(st.keepalive);
    st.abort.abort();
    this.#processing = null;
  }

  #reply(cid: number, cmd: number, payload: Uint8Array): void {
    for (const frame of encodeFrames(cid, cmd, payload, CTAPHID_REPORT_SIZE)) this.#send(frame);
  }

  #error(cid: number, code: number): void {
    this.#reply(cid, CtapHidCmd.ERROR, Uint8Array.of(code));
  }
}
