/** Shared setup for the agent's integration tests: a real agent on port 0 and a temp socket. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { Agent } from '../../../src/agent/agent.ts';
import { resolveConfig, type RawConfig } from '../../../src/agent/config.ts';
import { createLogger } from '../../../src/agent/logger.ts';
import { TokenStore } from '../../../src/agent/token-store.ts';
import type { FidoClientFactory } from '../../../src/agent/fido-ops.ts';
import { KeytapRpcError } from '../../../src/client/keytap-client.ts';
import { KeytapClient, type ConnectOptions } from '../../../src/client/keytap-client.ts';
import { SUBPROTOCOL } from '../../../src/api/constants.ts';
import { fakeFidoFactory } from './fake-authenticator.ts';

export const CLIENT_TOKEN = 'client-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef01';

export interface TestAgent {
  agent: Agent;
  url: string;
  port: number;
  socket: string;
  dir: string;
  /** Every log line the agent wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Raw log text (to prove no secret appears). */
  rawLogs(): string;
  connect(o?: Partial<ConnectOptions>): Promise<KeytapClient>;
  close(): Promise<void>;
}

export async function startTestAgent(options: { config?: RawConfig; fidoClient?: FidoClientFactory } = {}): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'keytap-agent-'));
  const socket = join(dir, 'run', 'keytap.sock');
  const config = resolveConfig({ env: {}, flags: { listen: ['127.0.0.1:0'], socket, tokenFile: join(dir, 'run', 'tokens.json'), hid: false, ...options.config } });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      const text = chunk.toString();
      raw += text;
      for (const line of text.split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const tokens = TokenStore.fromTokens([
    { role: 'client', token: CLIENT_TOKEN },
    { role: 'admin', token: ADMIN_TOKEN },
  ]);
  const agent = new Agent({ config, tokens, logger, fidoClient: options.fidoClient ?? fakeFidoFactory, version: '0.1.0-test' });
  const bound = await agent.start();
  const port = bound.tcp[0].port;
  const url = `ws://127.0.0.1:${port}/`;
  const clients: KeytapClient[] = [];
  return {
    agent,
    url,
    port,
    socket,
    dir,
    logs,
    rawLogs: () => raw,
    async connect(o = {}) {
      const c = await KeytapClient.connect({ url, token: CLIENT_TOKEN, ...o });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw WebSocket (no SDK) for malformed-message tests; resolves once open. */
export function rawSocket(url: string, headers: Record<string, string> = { authorization: `Bearer ${CLIENT_TOKEN}` }, protocols: string | string[] = SUBPROTOCOL): Promise<RawConn> {
  const ws = new WebSocket(url, protocols, { headers });
  const queue: unknown[] = [];
  const waiters: Array<(m: unknown) => void> = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        send: (x: unknown) => ws.send(typeof x === 'string' ? x : JSON.stringify(x)),
        next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
        async call(method: string, params?: unknown, id: number | string = Math.floor(Math.random() * 1e9)) {
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }));
          for (;;) {
            const m = (await (queue.length ? Promise.resolve(queue.shift()) : new Promise<unknown>((r) => waiters.push(r)))) as { id?: unknown; method?: string };
            if (m.id === id) return m as { result?: any; error?: any };
          }
        },
      }),
    );
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}

export interface RawConn {
  ws: WebSocket;
  send(x: unknown): void;
  next(): Promise<any>;
  call(method: string, params?: unknown, id?: number | string): Promise<{ result?: any; error?: any }>;
}

/** Waits until `pred` holds, polling the event loop (no wall-clock assertions). */
export async function until(pred: () => boolean, what = 'condition', maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The JSON-RPC error a request ends with; fails the test if it succeeds or fails otherwise. */
export async function rpcError(p: Promise<unknown>): Promise<KeytapRpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KeytapRpcError) return e;
    throw e;
  }
  throw new Error('expected an error response');
}
