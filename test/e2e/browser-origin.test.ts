/**
 * A real browser against the agent (DESIGN.md §6, readers.md §11): headless Chromium loads a
 * page from a loopback origin that is NOT on the allowlist and tries `new WebSocket(...)`; the
 * upgrade fails and the agent's own log shows it refused that Origin with 403 (so the refusal is
 * the agent's, not Chrome's Local Network Access). A page from an allowlisted origin connects,
 * sends its token in `initialize` (browsers cannot set headers) and lists devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { requireService, hasFile } from '../helpers/services.ts';
import { startTestAgent, CLIENT_TOKEN, type TestAgent } from '../integration/agent/helpers.ts';
import { FakeKey, FakeProvider } from '../integration/agent/fake-authenticator.ts';

const gate = await requireService('chromium', hasFile('/usr/bin/chromium'));

/** The page: connects, initializes with the token, lists devices; reports everything it saw. */
const page = (agentUrl: string, token: string): string => `<!doctype html><meta charset="utf-8"><title>keytap test</title>
<script>
window.result = new Promise((resolve) => {
  const seen = { events: [] };
  let ws;
  try { ws = new WebSocket(${JSON.stringify(agentUrl)}, 'keytap.v1'); } catch (e) { resolve({ threw: String(e) }); return; }
  ws.onopen = () => { seen.events.push('open'); seen.protocol = ws.protocol; ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { token: ${JSON.stringify(token)}, clientInfo: { name: 'browser-test' } } })); };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id === 1) { seen.role = msg.result && msg.result.role; ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'devices.list' })); }
    if (msg.id === 2) { seen.devices = msg.result.devices.length; ws.close(); }
  };
  ws.onerror = () => seen.events.push('error');
  ws.onclose = (e) => { seen.events.push('close'); seen.code = e.code; resolve(seen); };
});
</script>`;

function pageServer(html: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html()));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

describe.skipIf(gate.skip)('headless Chromium against the agent', () => {
  let t: TestAgent;
  let browser: Browser;
  let allowed: { server: Server; port: number };
  let other: { server: Server; port: number };

  beforeAll(async () => {
    allowed = await pageServer(() => page(t.url, CLIENT_TOKEN));
    other = await pageServer(() => page(t.url, CLIENT_TOKEN));
    t = await startTestAgent({ config: { allowOrigins: [`http://127.0.0.1:${allowed.port}`] } });
    const p = new FakeProvider();
    p.plug(new FakeKey('B'));
    await t.agent.addProvider(p);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    allowed?.server.close();
    other?.server.close();
  });

  it('a loopback page whose origin is not allowlisted cannot open the WebSocket: the agent answered 403', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const origin = `http://localhost:${other.port}`;
    await p.goto(`${origin}/`);
    const r = (await p.evaluate('window.result')) as { events: string[]; role?: string; devices?: number };
    await ctx.close();
    expect(r.events).not.toContain('open');
    expect(r.role).toBeUndefined();
    const refusal = t.logs.find((l) => l.msg === 'upgrade refused' && l.origin === origin);
    expect(refusal).toMatchObject({ status: 403, reason: 'origin', transport: 'tcp' });
    expect(t.agent.metrics.upgradesRefused.get('origin')).toBeGreaterThanOrEqual(1);
  });

  it('a page from the allowlisted origin connects with keytap.v1, authenticates via initialize and lists devices', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${allowed.port}/`);
    const r = (await p.evaluate('window.result')) as { events: string[]; role?: string; devices?: number; protocol?: string };
    await ctx.close();
    expect(r.events[0]).toBe('open');
    expect(r.protocol).toBe('keytap.v1');
    expect(r.role).toBe('client');
    expect(r.devices).toBe(1);
    expect(t.logs.some((l) => l.msg === 'client connected' && l.origin === `http://127.0.0.1:${allowed.port}`)).toBe(true);
  });
});
