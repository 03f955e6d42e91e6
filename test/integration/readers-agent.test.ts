/**
 * The agent with `--simulate`: a virtual key AND a virtual badge reader, tapped through the admin
 * control plane (`sim.card.present` / `sim.card.remove`), with card notifications reaching a
 * WebSocket client (DESIGN.md §5 contract: reader, uid hex, atr hex, cardType).
 */
import { rpcError } from './agent/helpers.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { runAgent, type RunningAgent } from '../../src/main.ts';
import { KeytapClient, KeytapRpcError } from '../../src/client/keytap-client.ts';

let dir: string;
let running: RunningAgent;
let url: string;
let tokenFile: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keytap-readers-agent-'));
  tokenFile = join(dir, 'tokens.json');
  running = await runAgent({
    flags: { simulate: [''], hid: false, listen: '127.0.0.1:0', socket: false, tokenFile, logLevel: 'silent', readers: { pcsc: false } },
    env: {},
  });
  const a = running.agent.addresses!.tcp[0]!;
  url = `ws://127.0.0.1:${a.port}/`;
});
afterEach(async () => {
  await running.close();
  rmSync(dir, { recursive: true, force: true });
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    p.stdout.on('data', (b) => (stdout += b));
    const t = setTimeout(() => p.kill(), 20_000);
    p.on('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout });
    });
  });
}

function nextNotification(c: KeytapClient, method: string): Promise<any> {
  return new Promise((resolve) => {
    const on = (m: string, p: unknown): void => {
      if (m === method) {
        c.off('notification', on);
        resolve(p);
      }
    };
    c.on('notification', on);
  });
}

describe('keytap serve --simulate: a key and a badge reader at once', () => {
  it('lists the virtual reader beside the virtual key', async () => {
    const c = await KeytapClient.connect({ url, tokenFile, role: 'client' });
    try {
      const { devices } = await c.devicesList();
      expect(devices.map((d) => d.kind).sort()).toEqual(['authenticator', 'reader']);
      expect(devices.find((d) => d.kind === 'reader')).toMatchObject({ transport: 'virtual', name: 'Virtual Badge Reader', protocol: 'virtual' });
    } finally {
      c.close();
    }
  });

  it('sim.card.present / sim.card.remove tap a card in and out; a client sees card.present and card.removed', async () => {
    const admin = await KeytapClient.connect({ url, tokenFile, role: 'admin' });
    const client = await KeytapClient.connect({ url, tokenFile, role: 'client', subscribe: ['card'] });
    try {
      const readerId = (await client.devicesList()).devices.find((d) => d.kind === 'reader')!.id;
      const present = nextNotification(client, 'card.present');
      const r = (await admin.request('sim.card.present', { uid: '04:3C:51:3A:00:3E:80', atr: '3B8F8001804F0CA0000003060300030000000068' })) as Record<string, unknown>;
      expect(r).toEqual({ reader: readerId, uid: '043c513a003e80', atr: '3b8f8001804f0ca0000003060300030000000068', cardType: 'MIFARE Ultralight' });
      const p = await present;
      expect(p).toMatchObject({ reader: readerId, uid: '043c513a003e80', atr: '3b8f8001804f0ca0000003060300030000000068', cardType: 'MIFARE Ultralight' });
      expect(p.card).toMatchObject({ uid: '043c513a003e80', standard: 'ISO 14443 A part 3' });
      const removed = nextNotification(client, 'card.removed');
      expect(await admin.request('sim.card.remove', {})).toMatchObject({ removed: true, uid: '043c513a003e80' });
      expect(await removed).toMatchObject({ reader: readerId, uid: '043c513a003e80' });
      expect(await admin.request('sim.card.remove', {})).toEqual({ removed: false });
    } finally {
      admin.close();
      client.close();
    }
  });

  it('the default ATR is MIFARE Classic 1K', async () => {
    const admin = await KeytapClient.connect({ url, tokenFile, role: 'admin' });
    try {
      expect(await admin.request('sim.card.present', { uid: '62322B1F' })).toMatchObject({ uid: '62322b1f', cardType: 'MIFARE Classic 1K' });
    } finally {
      admin.close();
    }
  });

  it('keytap sim card present UID[:ATR] / keytap sim card remove tap the virtual reader from the CLI', async () => {
    const client = await KeytapClient.connect({ url, tokenFile, role: 'client', subscribe: ['card'] });
    try {
      // Async spawn: the agent runs in this process and must keep answering.
      const env = { ...process.env, KEYTAP_URL: url, KEYTAP_TOKEN_FILE: tokenFile };
      const present = nextNotification(client, 'card.present');
      const r1 = await runCli(['bin/keytap.js', 'sim', 'card', 'present', '04112233445566:3B8180018080'], env);
      expect(r1.status).toBe(0);
      expect(JSON.parse(r1.stdout)).toMatchObject({ uid: '04112233445566', cardType: 'MIFARE DESFire' });
      expect(await present).toMatchObject({ uid: '04112233445566', atr: '3b8180018080', cardType: 'MIFARE DESFire' });
      const removed = nextNotification(client, 'card.removed');
      const r2 = await runCli(['bin/keytap.js', 'sim', 'card', 'remove'], env);
      expect(r2.status).toBe(0);
      expect(JSON.parse(r2.stdout)).toMatchObject({ removed: true, uid: '04112233445566' });
      expect(await removed).toMatchObject({ uid: '04112233445566' });
      const r3 = await runCli(['bin/keytap.js', 'sim', 'card', 'present'], env);
      expect(r3.status).toBe(64);
    } finally {
      client.close();
    }
  });

  it('keytap badge read --json goes through the running agent and sees the virtual reader', async () => {
    const admin = await KeytapClient.connect({ url, tokenFile, role: 'admin' });
    try {
      const reading = runCli(['bin/keytap.js', 'badge', 'read', '--json', '--timeout', '15'], { ...process.env, KEYTAP_URL: url, KEYTAP_TOKEN_FILE: tokenFile });
      // Tap once the CLI is subscribed (it connects, lists devices, subscribes): retry the tap until it is seen.
      let r: { status: number | null; stdout: string } | null = null;
      void reading.then((x) => (r = x));
      for (let i = 0; i < 100 && r === null; i++) {
        await admin.request('sim.card.present', { uid: '62322b1f' });
        await new Promise((res) => setTimeout(res, 100));
        await admin.request('sim.card.remove', {});
      }
      const done = await reading;
      expect(done.status).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({ uid: '62322b1f', cardType: 'MIFARE Classic 1K', readerName: 'Virtual Badge Reader', standard: 'ISO 14443 A part 3' });
      const list = await runCli(['bin/keytap.js', 'readers', '--json'], { ...process.env, KEYTAP_URL: url, KEYTAP_TOKEN_FILE: tokenFile });
      expect(list.status).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject({ agent: true, readers: [{ transport: 'virtual', name: 'Virtual Badge Reader', protocol: 'virtual' }] });
    } finally {
      admin.close();
    }
  });

  it('the control plane needs the admin role; bad hex is refused by the schema', async () => {
    const client = await KeytapClient.connect({ url, tokenFile, role: 'client' });
    const admin = await KeytapClient.connect({ url, tokenFile, role: 'admin' });
    try {
      const e1 = await rpcError(client.request('sim.card.present', { uid: '62322b1f' }));
      expect(e1).toBeInstanceOf(KeytapRpcError);
      expect(e1.code).toBe('FORBIDDEN');
      const e2 = await rpcError(admin.request('sim.card.present', { uid: 'xyz' }));
      expect(e2).toBeInstanceOf(KeytapRpcError);
      expect(e2.rpcCode).toBe(-32602);
      // An odd number of hex digits fails the schema's hex pattern.
      const e3 = await rpcError(admin.request('sim.card.present', { uid: '62322b1f0' }));
      expect(e3).toBeInstanceOf(KeytapRpcError);
      expect(e3.rpcCode).toBe(-32602);
    } finally {
      client.close();
      admin.close();
    }
  });
});
