/**
 * The listeners: HTTP servers on loopback TCP addresses and on the unix socket, all upgrading
 * to the same WebSocket protocol. Every request passes the gates first (DESIGN.md §6,
 * readers.md §11): Host must be a loopback name with this listener's port (TCP only: DNS
 * rebinding cannot reach a unix socket), Origin when present must be on the allowlist exactly,
 * the client must offer subprotocol `keytap.v1` (picked explicitly with `handleProtocols`), and a
 * bearer token, when sent, must be valid. Refusals are plain HTTP responses before any WebSocket
 * exists: 403 (Host, Origin), 400 (subprotocol), 401 (token), 503 (too many connections).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { SUBPROTOCOL } from '../api/constants.ts';
import { SecretBytes } from '../protocol/secret.ts';
import { hostAllowed, originAllowed } from './http-gates.ts';
import type { TokenGrant, TokenStore } from './token-store.ts';
import type { Metrics } from './metrics.ts';
import type { Role } from '../api/constants.ts';

/** Slow or silent peers cannot hold a connection open before the upgrade (slowloris). */
const HTTP_OPTIONS = { headersTimeout: 10_000, requestTimeout: 15_000, maxHeaderSize: 16 * 1024 };

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServerOptions {
  listen: ListenAddress[];
  /** Unix socket path, or null for none. */
  socket: string | null;
  /** Mode of the socket file (default 0o660: the agent's group may connect). */
  socketMode: number;
  /** Role of unix-socket clients (authorised by the socket's file permissions). */
  socketRole: Role;
  allowOrigins: readonly string[];
  maxMessageBytes: number;
  maxConnections: number;
  /** Ping interval; a client that misses one pong is dropped (default 30 s). */
  heartbeatMs: number;
  /** Serve `GET /metrics`. */
  metrics: boolean;
  tokens: TokenStore;
  logger: Logger;
  counters: Metrics;
  renderMetrics(): string;
  /** A WebSocket passed every gate. */
  accept(ws: WebSocket, info: { transport: 'tcp' | 'unix'; origin?: string; grant?: TokenGrant; remote: string }): void;
  connectionCount(): number;
}

export interface BoundAddresses {
  tcp: ListenAddress[];
  socket: string | null;
}

export class AgentServer {
  readonly #wss: WebSocketServer;
  readonly #servers: Server[] = [];
  #socketPath: string | null = null;
  /** The socket file's inode, so shutdown never unlinks a socket a newer agent created at the same path. */
  #socketIno = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #alive = new WeakMap<WebSocket, boolean>();
  readonly #sockets = new Set<WebSocket>();

  constructor(readonly options: ServerOptions) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      clientTracking: false,
      perMessageDeflate: false,
      // ws accepts the first offered subprotocol unless told otherwise (readers.md §11).
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  async listen(): Promise<BoundAddresses> {
    const tcp: ListenAddress[] = [];
    let assigned = 0;
    for (const a of this.options.listen) {
      const port = a.port === 0 && assigned !== 0 ? assigned : a.port;
      try {
        const bound = await this.#listenTcp(a.host, port);
        if (assigned === 0) assigned = bound;
        tcp.push({ host: a.host, port: bound });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A machine without IPv6 loopback: keep the IPv4 listener rather than fail.
        if ((code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') && this.options.listen.length > 1) {
          this.options.logger.warn({ host: a.host, port, code }, 'loopback address not available; skipping it');
          continue;
        }
        await this.close();
        throw e;
      }
    }
    if (this.options.socket) {
      try {
        await this.#listenUnix(this.options.socket);
      } catch (e) {
        await this.close();
        throw e;
      }
    }
    this.#heartbeat = setInterval(() => this.#ping(), this.options.heartbeatMs);
    this.#heartbeat.unref();
    return { tcp, socket: this.#socketPath };
  }

  #listenTcp(host: string, port: number): Promise<number> {
    const server = createServer(HTTP_OPTIONS, (req, res) => this.#onRequest(req, res, 'tcp', server));
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head, 'tcp', server));
    server.on('clientError', (_e, socket) => socket.destroy());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        this.#servers.push(server);
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  async #listenUnix(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await removeStaleSocket(path);
    const server = createServer(HTTP_OPTIONS, (req, res) => this.#onRequest(req, res, 'unix', server));
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head, 'unix', server));
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, this.options.socketMode);
    this.#servers.push(server);
    this.#socketPath = path;
    this.#socketIno = statSync(path).ino;
  }

  /** Returns the refusal reason, or null when the request may proceed. */
  #gate(req: IncomingMessage, transport: 'tcp' | 'unix', server: Server): { status: number; reason: string; text: string } | null {
    if (transport === 'tcp') {
      const port = (server.address() as { port: number }).port;
      if (!hostAllowed(req.headers.host, port)) return { status: 403, reason: 'host', text: 'Host must be 127.0.0.1, localhost or [::1] with the agent\'s port' };
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin, this.options.allowOrigins)) return { status: 403, reason: 'origin', text: 'Origin not allowed' };
    return null;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse, transport: 'tcp' | 'unix', server: Server): void {
    const refused = this.#gate(req, transport, server);
    if (refused) {
      this.options.counters.countRefused(refused.reason);
      res.writeHead(refused.status, { 'content-type': 'text/plain', connection: 'close' }).end(`${refused.text}\n`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics' && this.options.metrics) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.options.renderMetrics());
      return;
    }
    if (path === '/') {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`keytap agent: connect with a WebSocket, subprotocol ${SUBPROTOCOL}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, transport: 'tcp' | 'unix', server: Server): void {
    const refuse = (status: number, reason: string, text: string): void => {
      this.options.counters.countRefused(reason);
      this.options.logger.info({ transport, status, reason, origin: req.headers.origin, host: req.headers.host }, 'upgrade refused');
      const body = `${text}\n`;
      socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    socket.on('error', () => socket.destroy());
    const refused = this.#gate(req, transport, server);
    if (refused) return refuse(refused.status, refused.reason, refused.text);
    if ((req.url ?? '/').split('?')[0] !== '/') return refuse(404, 'path', 'not found');
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!offered.includes(SUBPROTOCOL)) return refuse(400, 'subprotocol', `offer the WebSocket subprotocol ${SUBPROTOCOL}`);
    let grant: TokenGrant | undefined;
    if (transport === 'unix') grant = { role: this.options.socketRole, label: 'unix' };
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer +(\S+)$/i.exec(auth);
      const secret = m ? new SecretBytes(Buffer.from(m[1], 'utf8')) : null;
      const g = secret ? this.options.tokens.match(secret) : null;
      secret?.wipe();
      if (!g) return refuse(401, 'token', 'invalid bearer token');
      if (!grant || g.role === 'admin') grant = g;
    }
    if (this.options.connectionCount() >= this.options.maxConnections) return refuse(503, 'capacity', 'too many connections');
    const origin = req.headers.origin;
    const remote = transport === 'unix' ? 'unix' : `${(socket as Socket).remoteAddress}:${(socket as Socket).remotePort}`;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#alive.set(ws, true);
      this.#sockets.add(ws);
      ws.on('pong', () => this.#alive.set(ws, true));
      ws.on('close', () => this.#sockets.delete(ws));
      this.options.accept(ws, { transport, ...(origin !== undefined ? { origin } : {}), ...(grant ? { grant } : {}), remote });
    });
  }

  #ping(): void {
    for (const ws of this.#sockets) {
      if (this.#alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.#alive.set(ws, false);
      ws.ping();
    }
  }

  async close(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const ws of this.#sockets) ws.terminate();
    await Promise.all(
      this.#servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    if (this.#socketPath) {
      try {
        if (statSync(this.#socketPath).ino === this.#socketIno) unlinkSync(this.#socketPath);
      } catch {
        /* already gone */
      }
      this.#socketPath = null;
    }
  }
}

function statusText(status: number): string {
  return { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
}

/** Removes a socket file nobody listens on; refuses to take over a live one (another agent runs). */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!statSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const live = await new Promise<boolean>((resolve) => {
    const c = netConnect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw Object.assign(new Error(`another agent is already listening on ${path}`), { code: 'EADDRINUSE' });
  unlinkSync(path);
}
