/**
 * The agent makes no outbound network connections (DESIGN.md §6). mitm intercepts every
 * net/tls/http connect in this process; the agent runs here, in-process, with a simulated key,
 * and a client drives every method. The only connections seen must be the test client's own
 * connections to the agent; UDP sends are watched too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { startTestAgent, ADMIN_TOKEN, type TestAgent } from './helpers.ts';
import { SimKey, SimKeyProvider } from './sim-key.ts';
import { fidoClientFactory } from '../../../src/main.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';
import { KeytapClient } from '../../../src/client/keytap-client.ts';
import { toBase64Url } from '../../../src/util/bytes.ts';

const connects: Array<{ host?: string; port?: number; path?: string }> = [];
const udpSends: unknown[] = [];
let mitm: { on(e: string, f: (socket: { bypass(): void }, opts: any) => void): void; disable(): void };
let t: TestAgent;
const origSend = dgram.Socket.prototype.send;

beforeAll(async () => {
  const { default: Mitm } = (await import('mitm' as string)) as { default: () => typeof mitm };
  mitm = Mitm();
  mitm.on('connect', (socket, opts) => {
    connects.push({ host: opts.host, port: Number(opts.port), path: opts.path ?? opts.socketPath });
    socket.bypass();
  });
  dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
    udpSends.push(args[0]);
    return (origSend as (...a: unknown[]) => void).apply(this, args);
  } as typeof origSend;
  t = await startTestAgent({ fidoClient: fidoClientFactory });
  await t.agent.addProvider(new SimKeyProvider([new SimKey('N')]));
});

afterAll(async () => {
  mitm?.disable();
  dgram.Socket.prototype.send = origSend;
  await t?.close();
});

describe('no outbound connections (DESIGN.md §6)', () => {
  it('serving every method opens no connection except the client\'s own to the agent', async () => {
    const id = deviceIdFor('authenticator', 'simtest', 'N');
    const c = await KeytapClient.connect({ url: t.url, token: ADMIN_TOKEN, subscribe: 'all' });
    const u = await KeytapClient.connect({ socketPath: t.socket });
    const cdh = toBase64Url(new Uint8Array(32).fill(1));
    await c.devicesList();
    await c.fidoInfo(id);
    await c.setPin(id, '2468');
    await c.verifyPin(id, '2468');
    await c.changePin(id, '2468', '8642');
    const mc = await c.makeCredential({ device: id, rpId: 'example.com', clientDataHash: cdh, user: { id: 'AQ' }, pin: '8642' });
    await c.getAssertion({ device: id, rpId: 'example.com', clientDataHash: cdh, allowCredentials: [mc.credentialId] });
    await c.wink(id);
    await c.reset(id);
    await u.pinStatus(id);
    c.close();
    u.close();
    expect(connects.length).toBeGreaterThanOrEqual(2); // mitm saw the client's connections, so it was active
    for (const x of connects) {
      const toAgentTcp = x.port === t.port && ['127.0.0.1', 'localhost', '::1'].includes(String(x.host));
      const toAgentSocket = x.path === t.socket;
      expect(toAgentTcp || toAgentSocket, JSON.stringify(x)).toBe(true);
    }
    expect(udpSends).toEqual([]);
  });
});
