/**
 * The agent: device registry + per-device queues + method registry + listeners + sessions.
 * src/main.ts builds one with concrete providers (node-hid, simulator) and a FIDO client factory;
 * tests build one with fakes. `Agent.start` returns once every listener is bound.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { envelopeSchema } from '../api/schema.ts';
import type { NotificationMap, NotificationName } from '../api/types.ts';
import { systemClock, type Clock } from '../util/deadline.ts';
import { AuditLog } from './audit.ts';
import type { AgentConfig } from './config.ts';
import { registerCoreMethods } from './core-methods.ts';
import { DeviceQueue } from './device-queue.ts';
import { DeviceRegistry } from './device-registry.ts';
import type { FidoClientFactory } from './fido-ops.ts';
import { registerFidoMethods } from './fido-methods.ts';
import { MethodRegistry, type MethodDefinition } from './method-registry.ts';
import { Metrics } from './metrics.ts';
import type { AuthenticatorProvider, ReaderProvider } from './providers.ts';
import { RateLimiter } from './rate-limiter.ts';
import { AgentServer, type BoundAddresses } from './server.ts';
import type { AgentServices } from './services.ts';
import { Session, type SessionHost } from './session.ts';
import type { TokenGrant, TokenStore } from './token-store.ts';

export interface AgentOptions {
  config: AgentConfig;
  tokens: TokenStore;
  logger: Logger;
  fidoClient: FidoClientFactory;
  /** The agent's version for `initialize` (default `0.0.0`). */
  version?: string;
  clock?: Clock;
}

export class Agent implements AgentServices {
  readonly devices = new DeviceRegistry();
  readonly methods = new MethodRegistry();
  readonly metrics = new Metrics();
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly fidoClient: FidoClientFactory;
  readonly config: AgentConfig;
  readonly #queues = new Map<string, DeviceQueue>();
  readonly #sessions = new Set<Session>();
  readonly #host: SessionHost;
  readonly #server: AgentServer;
  #nextConnection = 1;
  #addresses: BoundAddresses | null = null;

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.fidoClient = options.fidoClient;
    this.audit = new AuditLog(options.logger);
    const clock = options.clock ?? systemClock;
    const lim = options.config.limits;
    this.#host = {
      methods: this.methods,
      envelope: this.methods.compile(envelopeSchema),
      tokens: options.tokens,
      limits: { maxPendingRequests: lim.maxPendingRequests, maxBatch: lim.maxBatch, authFailuresPerConnection: lim.authFailuresPerConnection, maxBufferedBytes: 4 * 1024 * 1024, authTimeoutMs: lim.authTimeoutMs },
      pinLimiterPerConnection: new RateLimiter(lim.pinAttemptsPerConnection, lim.pinAttemptWindowMs, clock),
      pinLimiterPerToken: new RateLimiter(lim.pinAttemptsPerToken, lim.pinAttemptWindowMs, clock),
      logger: options.logger,
      metrics: this.metrics,
      clock,
      defaultTimeoutMs: options.config.requestTimeoutMs,
      onClose: (s) => {
        this.#sessions.delete(s);
        this.metrics.connections = this.#sessions.size;
        this.logger.info({ connection: s.id }, 'client disconnected');
      },
    };
    const transports = ['tcp', ...(options.config.socket ? ['unix'] : [])];
    registerCoreMethods(this, {
      version: options.version ?? '0.0.0',
      transports,
      limits: { maxMessageBytes: lim.maxMessageBytes, maxPendingRequests: lim.maxPendingRequests },
      methods: () => this.methods.names(),
      config: () => ({ ...this.config, socketMode: `0${this.config.socketMode.toString(8)}` }),
    });
    registerFidoMethods(this);

    this.devices.on('attached', (device) => this.notify('device.attached', { device }));
    this.devices.on('changed', (device) => this.notify('device.changed', { device }));
    this.devices.on('detached', (device) => {
      this.#queues.get(device.id)?.close();
      this.#queues.delete(device.id);
      this.notify('device.detached', { device });
    });
    this.devices.on('card', (e) => this.notify(e.type, { reader: e.reader, uid: e.card.uid, atr: e.card.atr ?? '', cardType: String(e.card.cardType ?? e.card.type ?? 'Unknown'), card: e.card }));

    this.#server = new AgentServer({
      listen: options.config.listen,
      socket: options.config.socket,
      socketMode: options.config.socketMode,
      socketRole: options.config.socketRole,
      allowOrigins: options.config.allowOrigins,
      maxMessageBytes: lim.maxMessageBytes,
      maxConnections: lim.maxConnections,
      heartbeatMs: options.config.heartbeatMs,
      metrics: options.config.metrics,
      tokens: options.tokens,
      logger: options.logger,
      counters: this.metrics,
      renderMetrics: () => this.metrics.render({ devices: this.#deviceCounts() }),
      accept: (ws, info) => this.#accept(ws, info),
      connectionCount: () => this.#sessions.size,
    });
  }

  /** Binds every listener. */
  async start(): Promise<BoundAddresses> {
    this.#addresses = await this.#server.listen();
    return this.#addresses;
  }

  get addresses(): BoundAddresses | null {
    return this.#addresses;
  }

  /** `ws://127.0.0.1:PORT/` for the first TCP listener. */
  get url(): string | null {
    const a = this.#addresses?.tcp[0];
    if (!a) return null;
    return `ws://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/`;
  }

  /** Adds an authenticator or reader provider (its current devices are announced, then hotplug). */
  addProvider(provider: AuthenticatorProvider | ReaderProvider): Promise<void> {
    return this.devices.addProvider(provider);
  }

  queueFor(deviceId: string): DeviceQueue {
    let q = this.#queues.get(deviceId);
    if (!q) {
      q = new DeviceQueue(deviceId);
      this.#queues.set(deviceId, q);
    }
    return q;
  }

  registerMethod<P, R>(def: MethodDefinition<P, R>): void {
    this.methods.register(def);
  }

  notify<N extends NotificationName>(method: N, params: NotificationMap[N]): void {
    this.notifyRaw(method, params);
  }

  notifyRaw(method: string, params: unknown): void {
    let text: Buffer | undefined;
    for (const s of this.#sessions) {
      if (!s.wants(method)) continue;
      text ??= Buffer.from(JSON.stringify({ jsonrpc: '2.0', method, params }));
      s.sendSerialized(text);
    }
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  #accept(ws: WebSocket, info: { transport: 'tcp' | 'unix'; origin?: string; grant?: TokenGrant; remote: string }): void {
    const id = `c${this.#nextConnection++}`;
    const s = new Session(this.#host, { id, ws, transport: info.transport, ...(info.origin !== undefined ? { origin: info.origin } : {}), ...(info.grant ? { grant: info.grant } : {}) });
    this.#sessions.add(s);
    this.metrics.connections = this.#sessions.size;
    this.metrics.connectionsTotal++;
    this.logger.info({ connection: id, transport: info.transport, origin: info.origin, remote: info.remote, role: info.grant?.role ?? null }, 'client connected');
  }

  #deviceCounts(): Record<string, number> {
    const out: Record<string, number> = { authenticator: 0, reader: 0 };
    for (const d of this.devices.list()) out[d.kind] = (out[d.kind] ?? 0) + 1;
    return out;
  }

  /** Closes listeners and connections (cancelling what they own) and the providers. */
  async close(): Promise<void> {
    for (const s of this.#sessions) s.close(1001, 'agent shutting down');
    await this.#server.close();
    for (const q of this.#queues.values()) q.close();
    await this.devices.close();
  }
}
