/**
 * The security model (DESIGN.md §6, readers.md §11), one test per mitigation: Host and Origin
 * gates on the upgrade (403 before any WebSocket exists), explicit subprotocol, bearer tokens and
 * the pre-auth surface, roles, message/pending/PIN-rate limits, audit lines without PINs, pino
 * redaction, the token file's creation, and loopback-only configuration.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { FakeKey, FakeProvider } from './fake-authenticator.ts';
import { ADMIN_TOKEN, CLIENT_TOKEN, rawSocket, startTestAgent, until, type TestAgent, rpcError } from './helpers.ts';
import { KeytapClient, KeytapRpcError } from '../../../src/client/keytap-client.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';
import { TokenStore } from '../../../src/agent/token-store.ts';
import { resolveConfig, parseListen } from '../../../src/agent/config.ts';
import { createLogger } from '../../../src/agent/logger.ts';
import { rpIdAllowedForOrigin } from '../../../src/agent/rp-id.ts';
import { SecretBytes } from '../../../src/protocol/secret.ts';
import { SUBPROTOCOL } from '../../../src/api/constants.ts';

let t: TestAgent | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Performs a raw upgrade and returns the HTTP status the agent answered (101 on success). */
function upgradeStatus(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.alloc(16, 1).toString('base64'),
        'sec-websocket-protocol': SUBPROTOCOL,
        host: `127.0.0.1:${port}`,
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('upgrade gates (DESIGN.md §6)', () => {
  it('refuses a Host that is not a loopback name with the agent\'s port (DNS rebinding) with 403', async () => {
    t = await startTestAgent();
    expect(await upgradeStatus(t.port, { host: `evil.example:${t.port}` })).toBe(403);
    expect(await upgradeStatus(t.port, { host: `127.0.0.1:${t.port + 1}` })).toBe(403);
    expect(await upgradeStatus(t.port, { host: '127.0.0.1' })).toBe(403);
    expect(await upgradeStatus(t.port, { host: `localhost:${t.port}` })).toBe(101);
    expect(await upgradeStatus(t.port, { host: `127.0.0.1:${t.port}` })).toBe(101);
  });

  it('listens on 127.0.0.1 and [::1] on the same port by default; both pass the Host gate with their own names', async () => {
    t = await startTestAgent({ config: { listen: ['0'] } });
    const tcp = t.agent.addresses!.tcp;
    expect(tcp.map((a) => a.host)).toEqual(['127.0.0.1', '::1']);
    expect(tcp[1].port).toBe(tcp[0].port);
    const c = await KeytapClient.connect({ url: `ws://[::1]:${t.port}/`, token: CLIENT_TOKEN });
    expect(c.info.role).toBe('client');
    c.close();
  });

  it('refuses an Origin not exactly on the allowlist, and Origin: null, with 403', async () => {
    t = await startTestAgent({ config: { allowOrigins: ['https://portal.example'] } });
    expect(await upgradeStatus(t.port, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(t.port, { origin: 'https://portal.example.evil.example' })).toBe(403);
    expect(await upgradeStatus(t.port, { origin: 'http://portal.example' })).toBe(403);
    expect(await upgradeStatus(t.port, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(t.port, { origin: 'https://portal.example' })).toBe(101);
    expect(await upgradeStatus(t.port, {})).toBe(101);
  });

  it('requires subprotocol keytap.v1 and selects it explicitly even when offered second', async () => {
    t = await startTestAgent();
    expect(await upgradeStatus(t.port, { 'sec-websocket-protocol': 'chat' })).toBe(400);
    const c = await rawSocket(t.url, { authorization: `Bearer ${CLIENT_TOKEN}` }, ['other.v9', SUBPROTOCOL]);
    expect(c.ws.protocol).toBe(SUBPROTOCOL);
    c.ws.close();
  });

  it('refuses a wrong bearer token on the upgrade with 401', async () => {
    t = await startTestAgent();
    expect(await upgradeStatus(t.port, { authorization: 'Bearer wrong-token-wrong-token' })).toBe(401);
    expect(await upgradeStatus(t.port, { authorization: 'Basic abc' })).toBe(401);
    expect(await upgradeStatus(t.port, { authorization: `Bearer ${CLIENT_TOKEN}` })).toBe(101);
  });

  it('serves /metrics only past the same Host gate', async () => {
    t = await startTestAgent();
    const get = (host: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port: t!.port, path: '/metrics', headers: { host } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
          .on('error', reject)
          .end();
      });
    const c = await t.connect();
    await c.devicesList();
    const ok = await get(`127.0.0.1:${t.port}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('keytap_connections 1');
    expect(ok.body).toContain('keytap_requests_total{method="devices.list"} 1');
    expect((await get(`rebind.example:${t.port}`)).status).toBe(403);
  });
});

describe('authentication and roles', () => {
  it('until a valid token is seen only initialize is answered (UNAUTHORIZED otherwise)', async () => {
    t = await startTestAgent();
    const c = await rawSocket(t.url, {});
    expect((await c.call('devices.list', {})).error).toMatchObject({ code: -32000, data: { code: 'UNAUTHORIZED' } });
    expect((await c.call('initialize', {})).error).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    expect((await c.call('initialize', { token: 'not-the-token-at-all' })).error).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    const ok = await c.call('initialize', { token: CLIENT_TOKEN });
    expect(ok.result.role).toBe('client');
    expect((await c.call('devices.list', {})).result).toEqual({ devices: [] });
    c.ws.close();
  });

  it('browsers authenticate through initialize params.token (an allowlisted Origin, no header)', async () => {
    t = await startTestAgent({ config: { allowOrigins: ['http://localhost:8000'] } });
    const c = await KeytapClient.connect({ url: t.url, token: ADMIN_TOKEN, tokenIn: 'initialize', origin: 'http://localhost:8000' });
    expect(c.info.role).toBe('admin');
    c.close();
  });

  it('closes the connection after 3 wrong tokens', async () => {
    t = await startTestAgent();
    const c = await rawSocket(t.url, {});
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    for (let i = 0; i < 3; i++) await c.call('initialize', { token: `wrong-token-number-${i}` });
    expect(await closed).toBe(1008);
  });

  it('closes a connection that does not authenticate within authTimeoutMs (idle anonymous sockets cannot pile up)', async () => {
    t = await startTestAgent({ config: { limits: { authTimeoutMs: 200 } } });
    const anon = await rawSocket(t.url, {});
    const authed = await rawSocket(t.url);
    const code = await new Promise<number>((r) => anon.ws.once('close', (c) => r(c)));
    expect(code).toBe(1008);
    expect(authed.ws.readyState).toBe(WebSocket.OPEN);
    authed.ws.close();
  });

  it('a method before initialize is refused with NOT_INITIALIZED even with a valid header', async () => {
    t = await startTestAgent();
    const c = await rawSocket(t.url);
    expect((await c.call('devices.list', {})).error.data.code).toBe('NOT_INITIALIZED');
    c.ws.close();
  });

  it('token comparison: exact match only, any length, no exceptions (constant-time on SHA-256 digests)', () => {
    const s = TokenStore.fromTokens([{ role: 'client', token: CLIENT_TOKEN }, { role: 'admin', token: ADMIN_TOKEN }]);
    const m = (x: string) => s.match(new SecretBytes(Buffer.from(x)));
    expect(m(CLIENT_TOKEN)).toEqual({ role: 'client', label: 'client#0' });
    expect(m(ADMIN_TOKEN)).toEqual({ role: 'admin', label: 'admin#0' });
    expect(m(CLIENT_TOKEN.slice(0, -1))).toBeNull();
    expect(m(`${CLIENT_TOKEN}x`)).toBeNull();
    expect(m('')).toBeNull();
    expect(m('x'.repeat(10_000))).toBeNull();
  });
});

describe('limits', () => {
  it('a message over maxMessageBytes closes the connection with 1009', async () => {
    t = await startTestAgent({ config: { limits: { maxMessageBytes: 4096 } } });
    const c = await rawSocket(t.url);
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    c.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { clientInfo: { name: 'x'.repeat(5000) } } });
    expect(await closed).toBe(1009);
  });

  it('at most maxPendingRequests per connection (TOO_MANY_REQUESTS)', async () => {
    t = await startTestAgent({ config: { limits: { maxPendingRequests: 2 } } });
    const p = new FakeProvider();
    const key = new FakeKey('K');
    key.hold = true;
    p.plug(key);
    await t.agent.addProvider(p);
    const id = deviceIdFor('authenticator', 'fake', 'K');
    const c = await t.connect();
    const a = c.wink(id).catch(() => undefined);
    const b = c.wink(id).catch(() => undefined);
    const e = await rpcError(c.wink(id));
    expect(e.code).toBe('TOO_MANY_REQUESTS');
    key.hold = false;
    key.release();
    await until(() => key.waitingForTouch === 0 && key.ops.length === 2, 'both done');
    await Promise.all([a, b]);
  });

  it('rate-limits PIN attempts per connection, and per token across reconnects', async () => {
    t = await startTestAgent({ config: { limits: { pinAttemptsPerConnection: 2, pinAttemptsPerToken: 3 } } });
    const p = new FakeProvider();
    const key = new FakeKey('K');
    key.pin = '1234';
    p.plug(key);
    await t.agent.addProvider(p);
    const id = deviceIdFor('authenticator', 'fake', 'K');
    const c1 = await t.connect();
    await c1.verifyPin(id, '1234');
    await c1.verifyPin(id, '1234');
    const e1 = await rpcError(c1.verifyPin(id, '1234'));
    expect(e1.code).toBe('RATE_LIMITED');
    expect(e1.details).toMatchObject({ scope: 'connection' });
    expect(e1.details.retryAfterMs).toBeGreaterThan(0);
    c1.close();
    const c2 = await t.connect();
    await c2.verifyPin(id, '1234');
    const e2 = await rpcError(c2.verifyPin(id, '1234'));
    expect(e2.code).toBe('RATE_LIMITED');
    expect(e2.details).toMatchObject({ scope: 'token' });
    expect(key.ops.filter((o) => o === 'verifyPin')).toHaveLength(3);
  });
});

describe('heartbeat', () => {
  it('drops a peer that stops answering pings (dead TCP peers do not hold connections)', async () => {
    t = await startTestAgent({ config: { heartbeatMs: 1000 } });
    const { connect } = await import('node:net');
    const sock = connect(t.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 2).toString('base64')}\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\n\r\n`);
    let got = '';
    sock.on('data', (d) => (got += d.toString('latin1')));
    await until(() => got.includes('101 Switching Protocols'), 'upgrade');
    await until(() => t!.agent.connectionCount === 1, 'session');
    // Never answer the pings: after one missed pong the agent terminates the connection.
    await new Promise((r) => sock.once('close', r));
    await until(() => t!.agent.connectionCount === 0, 'the session is gone');
    expect(t.agent.connectionCount).toBe(0);
  });
});

describe('audit and secrets', () => {
  it('each PIN attempt is one audit event (who, device, outcome, retries after) and no PIN reaches the log', async () => {
    t = await startTestAgent();
    const p = new FakeProvider();
    const key = new FakeKey('K');
    key.pin = '246813';
    p.plug(key);
    await t.agent.addProvider(p);
    const id = deviceIdFor('authenticator', 'fake', 'K');
    const c = await t.connect();
    await rpcError(c.verifyPin(id, '975310'));
    await c.changePin(id, '246813', '864200');
    // A PIN in an invalid request must not be logged either.
    await rpcError(c.request('fido.pin.verify', { device: id, pin: '555777', bogus: 1 }));
    const audit = t.logs.filter((l) => l.audit === true && l.event !== 'auth.failed');
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ event: 'pin.verify', device: id, outcome: 'PIN_INVALID', retriesLeft: 7, ctapStatus: 0x31, who: { connection: c.info.connectionId, role: 'client', identity: 'client#0', transport: 'tcp' } });
    expect(audit[1]).toMatchObject({ event: 'pin.change', device: id, outcome: 'ok', retriesLeft: 8 });
    const raw = t.rawLogs();
    for (const pin of ['246813', '975310', '864200', '555777', CLIENT_TOKEN]) expect(raw).not.toContain(pin);
  });

  it('pino redaction censors pin, newPin, currentPin and token paths', () => {
    let out = '';
    const log = createLogger({ destination: new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) }) });
    // Not digits: a log line's time and pid are digits and could contain '1111' by chance.
    log.info({ params: { pin: 'pin-alpha', newPin: 'pin-bravo', currentPin: 'pin-charlie', token: 'tok-delta' }, pin: 'pin-echo' }, 'x');
    log.flush?.();
    expect(out).toContain('[redacted]');
    for (const s of ['pin-alpha', 'pin-bravo', 'pin-charlie', 'tok-delta', 'pin-echo']) expect(out).not.toContain(s);
  });
});

describe('token file (DESIGN.md §5)', () => {
  it('is created 0600 in a 0700 directory with one client and one admin token, and reused afterwards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-tok-'));
    try {
      const path = join(dir, 'run', 'tokens.json');
      const a = TokenStore.loadOrCreate(path);
      expect(a.created).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
      const body = JSON.parse(readFileSync(path, 'utf8'));
      expect(body.tokens.map((x: { role: string }) => x.role)).toEqual(['client', 'admin']);
      expect(body.tokens[0].token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const b = TokenStore.loadOrCreate(path);
      expect(b.created).toBe(false);
      expect(b.store.match(new SecretBytes(Buffer.from(body.tokens[1].token)))?.role).toBe('admin');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a token file others can read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-tok-'));
    try {
      const path = join(dir, 'tokens.json');
      writeFileSync(path, JSON.stringify({ tokens: [{ role: 'client', token: 'x'.repeat(32) }] }));
      chmodSync(path, 0o644);
      expect(() => TokenStore.loadOrCreate(path)).toThrow(/readable or writable by others/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration', () => {
  it('refuses any non-loopback listen address', () => {
    for (const a of ['0.0.0.0:7391', '[::]:7391', '192.168.1.5:7391', 'example.com:80']) expect(() => parseListen(a)).toThrow(/refusing non-loopback/);
    expect(parseListen('7391')).toEqual([{ host: '127.0.0.1', port: 7391 }, { host: '::1', port: 7391 }]);
    expect(parseListen('[::1]:0')).toEqual([{ host: '::1', port: 0 }]);
  });

  it('names the bad key: unknown key in the file, wrong type, bad environment variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-cfg-'));
    try {
      const f = join(dir, 'c.json');
      writeFileSync(f, JSON.stringify({ limits: { maxMessageBytes: 'big' } }));
      expect(() => resolveConfig({ file: f, env: {} })).toThrow(/"limits.maxMessageBytes" must be integer/);
      writeFileSync(f, JSON.stringify({ listne: ['127.0.0.1:1'] }));
      expect(() => resolveConfig({ file: f, env: {} })).toThrow(/unknown key "listne"/);
      expect(() => resolveConfig({ env: { KEYTAP_HID: 'maybe' } })).toThrow(/KEYTAP_HID/);
      expect(() => resolveConfig({ env: {}, flags: { allowOrigins: ['https://x.example/path'] } })).toThrow(/allowOrigins\[0\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('layers defaults < file < environment < flags, with runtime-directory defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-cfg-'));
    try {
      const f = join(dir, 'c.json');
      writeFileSync(f, JSON.stringify({ requestTimeoutMs: 1000, allowOrigins: ['https://a.example'], limits: { maxBatch: 4 } }));
      const c = resolveConfig({ file: f, env: { XDG_RUNTIME_DIR: '/run/user/1000', KEYTAP_REQUEST_TIMEOUT_MS: '2000' }, flags: { allowOrigins: ['https://b.example'] } });
      expect(c.requestTimeoutMs).toBe(2000);
      expect(c.allowOrigins).toEqual(['https://b.example']);
      expect(c.limits.maxBatch).toBe(4);
      expect(c.limits.maxPendingRequests).toBe(16);
      expect(c.socket).toBe('/run/user/1000/keytap/keytap.sock');
      expect(c.tokenFile).toBe('/run/user/1000/keytap/tokens.json');
      expect(c.listen).toEqual([{ host: '127.0.0.1', port: 7391 }, { host: '::1', port: 7391 }]);
      expect(resolveConfig({ env: {} }).socket).toBe(`/tmp/keytap-${process.getuid!()}/keytap.sock`);
      expect(resolveConfig({ env: { RUNTIME_DIRECTORY: '/run/keytap' } }).socket).toBe('/run/keytap/keytap.sock');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rpId rule for browser origins (DESIGN.md §5)', () => {
  it('allows the origin host or a registrable suffix, nothing else', () => {
    expect(rpIdAllowedForOrigin('login.example.com', 'https://login.example.com')).toBe(true);
    expect(rpIdAllowedForOrigin('example.com', 'https://login.example.com')).toBe(true);
    expect(rpIdAllowedForOrigin('com', 'https://login.example.com')).toBe(false);
    expect(rpIdAllowedForOrigin('other.com', 'https://login.example.com')).toBe(false);
    expect(rpIdAllowedForOrigin('ample.com', 'https://login.example.com')).toBe(false);
    expect(rpIdAllowedForOrigin('localhost', 'http://localhost:8080')).toBe(true);
    expect(rpIdAllowedForOrigin('0.1', 'http://127.0.0.1:8080')).toBe(false);
  });

  it('a browser connection asking for another site\'s rpId gets RP_ID_NOT_ALLOWED; a native one may use any', async () => {
    t = await startTestAgent({ config: { allowOrigins: ['http://localhost:8000'] } });
    const p = new FakeProvider();
    const key = new FakeKey('K');
    p.plug(key);
    await t.agent.addProvider(p);
    const id = deviceIdFor('authenticator', 'fake', 'K');
    const cdh = Buffer.alloc(32, 1).toString('base64url');
    const browser = await t.connect({ origin: 'http://localhost:8000', tokenIn: 'initialize' });
    const e = await rpcError(browser.getAssertion({ device: id, rpId: 'bank.example', clientDataHash: cdh }));
    expect(e.code).toBe('RP_ID_NOT_ALLOWED');
    expect(key.ops).toEqual([]);
    await browser.getAssertion({ device: id, rpId: 'localhost', clientDataHash: cdh });
    const native = await t.connect();
    await native.getAssertion({ device: id, rpId: 'bank.example', clientDataHash: cdh });
    expect(key.ops).toEqual(['getAssertion', 'getAssertion']);
  });
});

describe('the unix socket', () => {
  it('is created with the configured mode in its directory', async () => {
    t = await startTestAgent({ config: { socketMode: '0600' } });
    expect(statSync(t.socket).isSocket()).toBe(true);
    expect(statSync(t.socket).mode & 0o777).toBe(0o600);
  });

  it('refuses to start over a live socket of another agent, and replaces a stale one', async () => {
    t = await startTestAgent();
    const { Agent } = await import('../../../src/agent/agent.ts');
    const cfg = resolveConfig({ env: {}, flags: { listen: ['127.0.0.1:0'], socket: t.socket, hid: false } });
    const other = new Agent({ config: cfg, tokens: TokenStore.fromTokens([{ role: 'client', token: CLIENT_TOKEN }]), logger: createLogger({ level: 'silent' }), fidoClient: () => { throw new Error('unused'); } });
    await expect(other.start()).rejects.toThrow(/already listening/);
    const dir = mkdtempSync(join(tmpdir(), 'keytap-stale-'));
    try {
      mkdirSync(join(dir, 'r'));
      const stalePath = join(dir, 'r', 's.sock');
      const { createServer } = await import('node:net');
      const srv = createServer();
      await new Promise<void>((r) => srv.listen(stalePath, r));
      // Simulate a crash: the file stays, nobody listens.
      (srv as unknown as { _handle: { close(): void } })._handle.close();
      const cfg2 = resolveConfig({ env: {}, flags: { listen: ['127.0.0.1:0'], socket: stalePath, hid: false } });
      const a2 = new Agent({ config: cfg2, tokens: TokenStore.fromTokens([{ role: 'client', token: CLIENT_TOKEN }]), logger: createLogger({ level: 'silent' }), fidoClient: () => { throw new Error('unused'); } });
      await a2.start();
      const c = await KeytapClient.connect({ socketPath: stalePath });
      expect(c.info.role).toBe('admin');
      c.close();
      await a2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void WebSocket;
