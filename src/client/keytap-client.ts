/**
 * The TypeScript client SDK for the keytap agent (DESIGN.md §5): connect over the loopback
 * WebSocket or the unix socket, call methods with types, receive events and progress, cancel
 * with an AbortSignal (sends `$/cancelRequest`; the agent then sends CTAPHID_CANCEL to the key
 * and answers the request with -32800 / CANCELLED).
 *
 * ```ts
 * const client = await KeytapClient.connect({ url: 'ws://127.0.0.1:7391/', tokenFile: '/run/user/1000/keytap/tokens.json' });
 * const { devices } = await client.devicesList();
 * const status = await client.pinStatus(devices[0].id);
 * ```
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { KeytapError } from '../protocol/errors.ts';
import { SUBPROTOCOL } from '../api/constants.ts';
import { RpcErrorCode, type RpcError } from '../api/errors.ts';
import type {
  MethodMap,
  MethodName,
  NotificationMap,
  NotificationName,
  ProgressStatus,
  RpcId,
  InitializeResult,
  DevicesListResult,
  PinStatusResult,
  MakeCredentialParams,
  MakeCredentialResult,
  GetAssertionParams,
  GetAssertionResult,
  SubscribeResult,
} from '../api/types.ts';
import type { Role, Topic } from '../api/constants.ts';

/** An error response from the agent: `code` is the stable `data.code`, `rpcCode` the JSON-RPC number. */
export class KeytapRpcError extends KeytapError {
  readonly rpcCode: number;
  constructor(error: RpcError) {
    const { code, ...details } = error.data ?? { code: rpcCodeName(error.code) };
    super(code ?? rpcCodeName(error.code), error.message, { details });
    this.rpcCode = error.code;
  }
}

/** The connection to the agent closed before the response came. */
export class ConnectionClosedError extends KeytapError {
  constructor(message = 'the connection to the keytap agent closed') {
    super('CONNECTION_CLOSED', message);
  }
}

function rpcCodeName(code: number): string {
  for (const [k, v] of Object.entries(RpcErrorCode)) if (v === code) return k;
  return 'INTERNAL';
}

export interface ConnectOptions {
  /** `ws://127.0.0.1:7391/` (TCP). Give this or `socketPath`. */
  url?: string;
  /** The agent's unix socket (authorised by file permissions; no token needed). */
  socketPath?: string;
  /** A bearer token. */
  token?: string;
  /** Read the token from the agent's token file instead (picks `role`'s token). */
  tokenFile?: string;
  /** Which token to take from `tokenFile` (default `client`). */
  role?: Role;
  /**
   * How to present the token: `header` (Authorization: Bearer, default for native clients) or
   * `initialize` (in initialize params, as browsers must).
   */
  tokenIn?: 'header' | 'initialize';
  /** Sent as the Origin header (tests use it to act as a browser page). */
  origin?: string;
  clientInfo?: { name: string; version?: string };
  /** Aborts connecting. */
  signal?: AbortSignal;
  /** Connect + initialize budget (default 5000 ms). */
  timeoutMs?: number;
  /** Subscribe to these topics right after initialize (default: none). */
  subscribe?: Topic[] | 'all';
}

export interface CallOptions {
  /** Aborting sends `$/cancelRequest`; the promise rejects with the agent's CANCELLED error. */
  signal?: AbortSignal;
  /** `request.progress` statuses for this request (touch-needed, processing, ...). */
  onProgress?: (status: ProgressStatus) => void;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; onProgress?: (s: ProgressStatus) => void };

type EventMap = { [K in NotificationName]: [NotificationMap[K]] } & { close: [number, string]; notification: [string, unknown] };

export class KeytapClient extends EventEmitter<EventMap> {
  readonly #ws: WebSocket;
  readonly #pending = new Map<RpcId, Pending>();
  #nextId = 1;
  #closed = false;
  /** The `initialize` result (version, role, capabilities). */
  info!: InitializeResult;

  private constructor(ws: WebSocket) {
    super();
    this.#ws = ws;
    ws.on('message', (data) => this.#onMessage(data.toString()));
    ws.on('close', (code, reason) => {
      this.#closed = true;
      for (const p of this.#pending.values()) p.reject(new ConnectionClosedError());
      this.#pending.clear();
      this.emit('close', code, reason.toString());
    });
    ws.on('error', () => undefined);
  }

  /** Connects, runs `initialize`, and optionally subscribes. */
  static async connect(options: ConnectOptions): Promise<KeytapClient> {
    let token = options.token;
    if (token === undefined && options.tokenFile) token = readToken(options.tokenFile, options.role ?? 'client');
    const address = options.socketPath ? `ws+unix:${options.socketPath}:/` : options.url;
    if (!address) throw new KeytapError('INVALID_PARAMS', 'give url or socketPath');
    const tokenIn = options.tokenIn ?? 'header';
    const headers: Record<string, string> = {};
    if (token !== undefined && tokenIn === 'header') headers.authorization = `Bearer ${token}`;
    const ws = new WebSocket(address, SUBPROTOCOL, {
      headers,
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
      handshakeTimeout: options.timeoutMs ?? 5000,
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        ws.terminate();
        reject(new KeytapError('CANCELLED', 'connect cancelled'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        options.signal?.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 0;
        res.resume();
        ws.terminate();
        const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'CONNECT_REFUSED';
        reject(new KeytapError(code, `the agent refused the connection (HTTP ${status})`, { details: { httpStatus: status } }));
      });
      ws.once('error', (e) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(new KeytapError('AGENT_UNAVAILABLE', `cannot reach the keytap agent at ${address}: ${e.message}`, { cause: e }));
      });
    });
    if (ws.protocol !== SUBPROTOCOL) {
      ws.terminate();
      throw new KeytapError('PROTOCOL_ERROR', `the server did not select subprotocol ${SUBPROTOCOL}`);
    }
    const client = new KeytapClient(ws);
    try {
      client.info = await client.request('initialize', {
        clientInfo: options.clientInfo ?? { name: 'keytap-client' },
        ...(token !== undefined && tokenIn === 'initialize' ? { token } : {}),
      });
      if (options.subscribe) await client.subscribe(options.subscribe === 'all' ? undefined : options.subscribe);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  /** Calls any method (typed for the core ones). */
  request<M extends MethodName>(method: M, params: MethodMap[M][0], options?: CallOptions): Promise<MethodMap[M][1]>;
  request(method: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  request(method: string, params?: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError());
    if (options.signal?.aborted) return Promise.reject(new KeytapError('CANCELLED', `${method} cancelled before it was sent`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#pending.has(id)) this.notifyAgent('$/cancelRequest', { id });
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = <T>(f: (v: T) => void) => (v: T): void => {
        options.signal?.removeEventListener('abort', onAbort);
        f(v);
      };
      this.#pending.set(id, { resolve: done(resolve), reject: done(reject), ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      this.#ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }));
    });
  }

  /** Sends a JSON-RPC notification (no response). */
  notifyAgent(method: string, params?: unknown): void {
    if (!this.#closed) this.#ws.send(JSON.stringify({ jsonrpc: '2.0', method, ...(params !== undefined ? { params } : {}) }));
  }

  #onMessage(text: string): void {
    let msg: { id?: RpcId | null; method?: string; params?: unknown; result?: unknown; error?: RpcError };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (Array.isArray(msg)) {
      for (const m of msg) this.#onMessage(JSON.stringify(m));
      return;
    }
    if (msg.method !== undefined) {
      if (msg.method === 'request.progress') {
        const p = msg.params as { id: RpcId; status: ProgressStatus };
        this.#pending.get(p.id)?.onProgress?.(p.status);
      }
      this.emit('notification', msg.method, msg.params);
      (this.emit as (e: string, ...a: unknown[]) => boolean)(msg.method, msg.params);
      return;
    }
    if (msg.id === undefined || msg.id === null) return;
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.error) p.reject(new KeytapRpcError(msg.error));
    else p.resolve(msg.result);
  }

  // ---- convenience wrappers ----
  devicesList(): Promise<DevicesListResult> {
    return this.request('devices.list', {});
  }
  fidoInfo(device: string, o?: CallOptions): Promise<Record<string, unknown>> {
    return this.request('fido.info', { device }, o);
  }
  pinStatus(device: string, o?: CallOptions): Promise<PinStatusResult> {
    return this.request('fido.pin.status', { device }, o);
  }
  setPin(device: string, newPin: string, o?: CallOptions): Promise<PinStatusResult> {
    return this.request('fido.pin.set', { device, newPin }, o);
  }
  changePin(device: string, currentPin: string, newPin: string, o?: CallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatusResult> {
    return this.request('fido.pin.change', { device, currentPin, newPin, ...(o?.confirmLastAttempt ? { confirmLastAttempt: true } : {}) }, o);
  }
  verifyPin(device: string, pin: string, o?: CallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatusResult> {
    return this.request('fido.pin.verify', { device, pin, ...(o?.confirmLastAttempt ? { confirmLastAttempt: true } : {}) }, o);
  }
  reset(device: string, o?: CallOptions): Promise<PinStatusResult> {
    return this.request('fido.reset', { device }, o);
  }
  makeCredential(params: MakeCredentialParams, o?: CallOptions): Promise<MakeCredentialResult> {
    return this.request('fido.makeCredential', params, o);
  }
  getAssertion(params: GetAssertionParams, o?: CallOptions): Promise<GetAssertionResult> {
    return this.request('fido.getAssertion', params, o);
  }
  wink(device: string, o?: CallOptions): Promise<Record<string, never>> {
    return this.request('fido.wink', { device }, o);
  }
  subscribe(topics?: Topic[]): Promise<SubscribeResult> {
    return this.request('events.subscribe', topics ? { topics } : {});
  }
  unsubscribe(topics?: Topic[]): Promise<SubscribeResult> {
    return this.request('events.unsubscribe', topics ? { topics } : {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection; the agent cancels whatever this client still had running. */
  close(): void {
    if (!this.#closed) this.#ws.close(1000);
  }

  /** Resolves once the connection is closed. */
  closedPromise(): Promise<void> {
    if (this.#closed || this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.#ws.once('close', () => resolve()));
  }
}

/** Reads a token of `role` from the agent's token file. */
export function readToken(path: string, role: Role = 'client'): string {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { tokens?: Array<{ role: string; token: string }> };
  const t = parsed.tokens?.find((x) => x.role === role);
  if (!t) throw new KeytapError('UNAUTHORIZED', `no ${role} token in ${path}`);
  return t.token;
}
