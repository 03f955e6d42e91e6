/**
 * One client connection (WebSocket over TCP or over the unix socket): parses and validates each
 * inbound JSON-RPC message before anything else sees it, enforces authentication, roles and
 * limits, runs methods with an AbortSignal it owns, and sends responses, progress and events.
 * Closing the connection aborts everything it owns (the FIDO client then sends CTAPHID_CANCEL).
 */
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import { Deadline, type Clock } from '../util/deadline.ts';
import { Pin, SecretBytes } from '../protocol/secret.ts';
import { KeytapError } from '../protocol/errors.ts';
import { CancelledError } from '../protocol/transport-errors.ts';
import { envelopeSchema } from '../api/schema.ts';
import { TOPICS, type Role, type Topic } from '../api/constants.ts';
import type { RpcId, RpcResponse, ProgressStatus } from '../api/types.ts';
import type { ValidateFunction } from 'ajv';
import { MethodRegistry, schemaErrors, type CallerInfo, type MethodContext } from './method-registry.ts';
import { toRpcError } from './rpc-errors.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { Metrics } from './metrics.ts';
import type { TokenGrant, TokenStore } from './token-store.ts';
import {
  ForbiddenError,
  InvalidParamsError,
  InvalidRequestError,
  MethodNotFoundError,
  NotInitializedError,
  ParseError,
  RateLimitedError,
  TooManyRequestsError,
  UnauthorizedError,
} from './agent-errors.ts';

/** Per-connection limits (DESIGN.md §6). */
export interface SessionLimits {
  /** Requests that may be pending at once on one connection (default 16). */
  maxPendingRequests: number;
  /** Entries in one JSON-RPC batch (default 16). */
  maxBatch: number;
  /** Wrong tokens before the connection is closed (default 3). */
  authFailuresPerConnection: number;
  /** Outgoing bytes buffered before a slow client is disconnected (default 4 MiB). */
  maxBufferedBytes: number;
  /** Unauthenticated connections are closed after this long (default 10 s). */
  authTimeoutMs: number;
}

/** What a session needs from the agent. */
export interface SessionHost {
  methods: MethodRegistry;
  envelope: ValidateFunction;
  tokens: TokenStore;
  limits: SessionLimits;
  pinLimiterPerConnection: RateLimiter;
  pinLimiterPerToken: RateLimiter;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  defaultTimeoutMs: number;
  /** Called once when the connection is gone. */
  onClose(session: Session): void;
}

/** What built-in methods (initialize, events.*, $/cancelRequest) may do to their connection. */
export interface ConnectionControl {
  readonly authenticated: boolean;
  readonly initialized: boolean;
  /** The role granted so far (undefined before authentication). */
  readonly role: Role | undefined;
  /** Checks a presented token; on success the connection takes its role. */
  authenticate(token: SecretBytes): TokenGrant;
  markInitialized(): void;
  subscribe(topics: readonly Topic[]): Topic[];
  unsubscribe(topics: readonly Topic[]): Topic[];
  cancel(id: RpcId): boolean;
}

declare module './method-registry.ts' {
  interface MethodContext {
    /** The calling connection (built-in methods use it; others should not need it). */
    connection: ConnectionControl;
  }
}

export interface SessionOptions {
  id: string;
  ws: WebSocket;
  transport: 'tcp' | 'unix';
  origin?: string;
  /** Set when the upgrade carried a valid bearer token, or for unix-socket clients. */
  grant?: TokenGrant;
}

let nextSecretFree = 0; // keeps ids of notifications unique in logs

export class Session implements ConnectionControl {
  readonly id: string;
  readonly transport: 'tcp' | 'unix';
  readonly origin: string | undefined;
  #grant: TokenGrant | undefined;
  #initialized = false;
  #authFailures = 0;
  #topics = new Set<Topic>();
  readonly #pending = new Map<string, AbortController>();
  #closed = false;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #ws: WebSocket;

  constructor(
    readonly host: SessionHost,
    options: SessionOptions,
  ) {
    this.id = options.id;
    this.#ws = options.ws;
    this.transport = options.transport;
    this.origin = options.origin;
    this.#grant = options.grant;
    this.#ws.on('message', (data, isBinary) => void this.#onMessage(data, isBinary));
    this.#ws.on('close', () => this.#onClose());
    this.#ws.on('error', (e) => this.host.logger.debug({ connection: this.id, err: e.message }, 'connection error'));
    if (!this.#grant) {
      this.#authTimer = setTimeout(() => {
        if (!this.#grant) this.close(1008, 'authentication timeout');
      }, this.host.limits.authTimeoutMs);
      this.#authTimer.unref();
    }
  }

  get authenticated(): boolean {
    return this.#grant !== undefined;
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  get role(): Role | undefined {
    return this.#grant?.role;
  }

  get caller(): CallerInfo {
    return {
      connectionId: this.id,
      role: this.#grant?.role ?? 'client',
      transport: this.transport,
      ...(this.origin !== undefined ? { origin: this.origin } : {}),
      identity: this.#grant?.label ?? 'anonymous',
    };
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  // ----- ConnectionControl -----
  authenticate(token: SecretBytes): TokenGrant {
    const grant = this.host.tokens.match(token);
    if (!grant) {
      this.#authFailures++;
      this.host.logger.warn({ audit: true, event: 'auth.failed', connection: this.id, transport: this.transport, origin: this.origin }, 'wrong token');
      if (this.#authFailures >= this.host.limits.authFailuresPerConnection) setImmediate(() => this.close(1008, 'too many authentication failures'));
      throw new UnauthorizedError('the token is not valid');
    }
    // A unix-socket client keeps the larger of its socket role and the token's role.
    if (!this.#grant || this.#grant.role !== 'admin') this.#grant = grant;
    return this.#grant;
  }

  markInitialized(): void {
    this.#initialized = true;
  }

  subscribe(topics: readonly Topic[]): Topic[] {
    for (const t of topics) this.#topics.add(t);
    return [...this.#topics];
  }

  unsubscribe(topics: readonly Topic[]): Topic[] {
    for (const t of topics) this.#topics.delete(t);
    return [...this.#topics];
  }

  cancel(id: RpcId): boolean {
    const ac = this.#pending.get(key(id));
    if (!ac) return false;
    ac.abort(new CancelledError('request cancelled by the client ($/cancelRequest)'));
    return true;
  }

  // ----- outbound -----
  /** Sends a notification if the connection subscribed to its topic (the prefix before the first dot). */
  notify(method: string, params: unknown): boolean {
    if (!this.wants(method)) return false;
    this.#send({ jsonrpc: '2.0', method, params });
    this.host.metrics.notificationsSent++;
    return true;
  }

  /** Whether a notification `method` would be delivered to this connection. */
  wants(method: string): boolean {
    return this.#initialized && this.#topics.has(method.split('.')[0] as Topic);
  }

  /** Sends an already serialised notification (fan-out serialises once for all connections). */
  sendSerialized(text: Buffer): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount > this.host.limits.maxBufferedBytes) {
      this.host.logger.warn({ connection: this.id }, 'client does not read its messages; disconnecting');
      this.close(1008, 'too slow');
      return;
    }
    this.#ws.send(text, { binary: false });
    this.host.metrics.notificationsSent++;
  }

  #send(msg: unknown): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount > this.host.limits.maxBufferedBytes) {
      this.host.logger.warn({ connection: this.id }, 'client does not read its messages; disconnecting');
      this.close(1008, 'too slow');
      return;
    }
    this.#ws.send(JSON.stringify(msg));
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.#ws.close(code, reason);
    // ws waits for the peer's close frame; make sure owned requests are cancelled now.
    this.#abortAll('connection closed');
  }

  #abortAll(why: string): void {
    for (const ac of this.#pending.values()) ac.abort(new CancelledError(`request cancelled: ${why}`));
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#authTimer) clearTimeout(this.#authTimer);
    this.#abortAll('connection closed');
    this.host.pinLimiterPerConnection.forget(`conn:${this.id}`);
    this.host.onClose(this);
  }

  // ----- inbound -----
  async #onMessage(data: RawData, isBinary: boolean): Promise<void> {
    try {
      if (isBinary) {
        this.#send(failure(null, new InvalidRequestError('binary frames are not accepted; send JSON text')));
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        this.#countError('PARSE_ERROR');
        this.#send(failure(null, new ParseError()));
        return;
      }
      if (Array.isArray(parsed)) {
        if (parsed.length === 0 || parsed.length > this.host.limits.maxBatch) {
          this.#send(failure(null, new InvalidRequestError(`a batch must hold 1 to ${this.host.limits.maxBatch} requests`)));
          return;
        }
        const out = (await Promise.all(parsed.map((m) => this.#handle(m)))).filter((r): r is RpcResponse => r !== null);
        if (out.length) this.#send(out);
        return;
      }
      const r = await this.#handle(parsed);
      if (r) this.#send(r);
    } catch (e) {
      // Never let one message take the agent down.
      this.host.logger.error({ connection: this.id, err: e instanceof Error ? e.message : String(e) }, 'unexpected error handling a message');
    }
  }

  async #handle(msg: unknown): Promise<RpcResponse | null> {
    if (!this.host.envelope(msg)) {
      const id = validId((msg as { id?: unknown })?.id);
      this.#countError('INVALID_REQUEST');
      return failure(id, new InvalidRequestError('not a JSON-RPC 2.0 request', { details: { errors: schemaErrors(this.host.envelope.errors) } }));
    }
    const req = msg as { id?: RpcId; method: string; params?: unknown };
    const isNotification = req.id === undefined;
    this.host.metrics.countRequest(this.host.methods.get(req.method) ? req.method : '(unknown)');
    if (isNotification) {
      // Only these make sense without a response; other notifications are ignored (JSON-RPC: never answered).
      if (['$/cancelRequest', 'events.subscribe', 'events.unsubscribe'].includes(req.method) && this.#initialized) {
        await this.#call(req.method, req.params, null).catch(() => undefined);
      }
      return null;
    }
    const id = req.id as RpcId;
    try {
      return { jsonrpc: '2.0', id, result: await this.#call(req.method, req.params, id) };
    } catch (e) {
      const err = toRpcError(e);
      this.#countError(err.data?.code ?? 'INTERNAL');
      if (!(e instanceof KeytapError)) this.host.logger.error({ connection: this.id, method: req.method, err: e instanceof Error ? e.stack : String(e) }, 'method failed unexpectedly');
      return { jsonrpc: '2.0', id, error: err };
    }
  }

  async #call(method: string, rawParams: unknown, id: RpcId | null): Promise<unknown> {
    if (method !== 'initialize') {
      if (!this.authenticated) throw new UnauthorizedError();
      if (!this.#initialized) throw new NotInitializedError();
    }
    const entry = this.host.methods.get(method);
    if (!entry) throw new MethodNotFoundError(method);
    const { def, validate } = entry;
    if (def.role === 'admin' && this.role !== 'admin') throw new ForbiddenError(`${method} needs the admin role; this connection has ${this.role ?? 'none'}`);
    if (Array.isArray(rawParams)) throw new InvalidParamsError('params must be an object (by-name parameters)');
    const params = (rawParams ?? {}) as Record<string, unknown>;
    if (!validate(params)) {
      scrub(params, def.secretParams);
      throw new InvalidParamsError(`invalid params for ${method}`, { details: { errors: schemaErrors(validate.errors) } });
    }
    const secrets: Record<string, Pin> = {};
    for (const name of def.secretParams ?? []) {
      const v = params[name];
      if (typeof v === 'string') secrets[name] = Pin.fromString(v);
      delete params[name];
    }
    const k = id === null ? `n${nextSecretFree++}` : key(id);
    if (id !== null && this.#pending.has(k)) {
      wipeAll(secrets);
      throw new InvalidRequestError(`request id ${JSON.stringify(id)} is already pending on this connection`);
    }
    if (id !== null && this.#pending.size >= this.host.limits.maxPendingRequests) {
      wipeAll(secrets);
      throw new TooManyRequestsError(this.host.limits.maxPendingRequests);
    }
    const ac = new AbortController();
    this.#pending.set(k, ac);
    try {
      if (def.pinAttempt === true || (def.pinAttempt === 'if-secret' && Object.keys(secrets).length > 0)) this.#checkPinRate();
      const timeoutMs = typeof params.timeoutMs === 'number' ? params.timeoutMs : this.host.defaultTimeoutMs;
      let last: ProgressStatus | undefined;
      const ctx: MethodContext = {
        caller: this.caller,
        requestId: id,
        signal: ac.signal,
        deadline: Deadline.in(timeoutMs, this.host.clock),
        progress: (status) => {
          if (id === null || status === last || ac.signal.aborted) return;
          last = status;
          this.#send({ jsonrpc: '2.0', method: 'request.progress', params: { id, status } });
        },
        secrets,
        connection: this,
      };
      return await def.handler(params, ctx);
    } finally {
      this.#pending.delete(k);
      wipeAll(secrets);
    }
  }

  #checkPinRate(): void {
    const ck = `conn:${this.id}`;
    const tk = `token:${this.#grant?.label ?? 'anonymous'}`;
    const a = this.host.pinLimiterPerConnection.retryAfter(ck);
    if (a > 0) throw new RateLimitedError(a, 'connection');
    const b = this.host.pinLimiterPerToken.retryAfter(tk);
    if (b > 0) throw new RateLimitedError(b, 'token');
    this.host.pinLimiterPerConnection.record(ck);
    this.host.pinLimiterPerToken.record(tk);
  }

  #countError(code: string): void {
    this.host.metrics.countError(code);
  }
}

function key(id: RpcId): string {
  return `${typeof id}:${id}`;
}

function validId(id: unknown): RpcId | null {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

function failure(id: RpcId | null, e: unknown): RpcResponse {
  return { jsonrpc: '2.0', id: id as RpcId, error: toRpcError(e) };
}

function scrub(params: Record<string, unknown>, names: readonly string[] | undefined): void {
  for (const n of names ?? []) delete params[n];
}

function wipeAll(secrets: Record<string, SecretBytes>): void {
  for (const s of Object.values(secrets)) s.wipe();
}

/** All topics, for `events.subscribe` without `topics`. */
export const ALL_TOPICS: readonly Topic[] = TOPICS;
