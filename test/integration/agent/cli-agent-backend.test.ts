/**
 * The CLI over the agent: `AgentBackend` gives the CLI the same results and error codes as
 * direct mode through the SDK; `AutoBackend` uses a running agent first and falls back to
 * direct mode, reporting which (`--verbose`); the real `keytap` binary talks to a test agent
 * through its unix socket.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startTestAgent, type TestAgent } from './helpers.ts';
import { FakeKey, FakeProvider } from './fake-authenticator.ts';
import { AgentBackend, AutoBackend } from '../../../src/cli/agent-backend.ts';
import type { CliBackend } from '../../../src/cli/backend.ts';
import { exitCodeFor } from '../../../src/cli/backend.ts';
import { KeytapClient } from '../../../src/client/keytap-client.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';

let t: TestAgent;
let key: FakeKey;
beforeEach(async () => {
  t = await startTestAgent();
  const p = new FakeProvider();
  key = new FakeKey('CLI1');
  p.plug(key);
  await t.agent.addProvider(p);
});
afterEach(async () => {
  await t.close();
});

describe('AgentBackend', () => {
  it('lists keys by agent id and runs PIN operations on the only key; errors keep their codes', async () => {
    const b = new AgentBackend(await KeytapClient.connect({ socketPath: t.socket }));
    const id = deviceIdFor('authenticator', 'fake', 'CLI1');
    expect(await b.listDevices()).toEqual([{ path: id, transport: 'virtual', product: 'Fake Key CLI1' }]);
    expect((await b.setPin(undefined, Pin.fromString('2468'))).retriesLeft).toBe(8);
    const e = (await b.verifyPin(id, Pin.fromString('1357')).catch((x: unknown) => x)) as { code: string };
    expect(e.code).toBe('PIN_INVALID');
    expect(exitCodeFor(e.code)).toBe(2);
    expect((await b.pinStatus('Fake Key CLI1')).retriesLeft).toBe(7);
    const missing = (await b.pinStatus('nope').catch((x: unknown) => x)) as { code: string };
    expect(missing.code).toBe('DEVICE_NOT_FOUND');
    await b.close();
  });
});

describe('AutoBackend: agent first, else direct', () => {
  const direct = (): CliBackend => ({ listDevices: async () => [{ path: '/dev/hidraw9', transport: 'usb' }] }) as unknown as CliBackend;

  it('uses the agent on its socket and says so', async () => {
    const lines: string[] = [];
    const b = new AutoBackend({ direct, report: (l) => lines.push(l), env: { KEYTAP_SOCKET: t.socket } });
    expect((await b.listDevices())[0].transport).toBe('virtual');
    expect(lines).toEqual([`keytap: using the agent at ${t.socket}`]);
    await b.close();
  });

  it('falls back to direct mode when no agent answers, and says why', async () => {
    const lines: string[] = [];
    const b = new AutoBackend({ direct, report: (l) => lines.push(l), env: { KEYTAP_SOCKET: join(t.dir, 'absent.sock') } });
    expect((await b.listDevices())[0].path).toBe('/dev/hidraw9');
    expect(lines[0]).toMatch(/^keytap: no agent answered .*; direct mode$/);
  });

  it('a direct-mode address (udp://) skips the agent', async () => {
    const lines: string[] = [];
    const b = new AutoBackend({ direct: () => ({ pinStatus: async () => ({ state: 'no-pin' }) }) as unknown as CliBackend, report: (l) => lines.push(l), env: { KEYTAP_SOCKET: t.socket } });
    expect(await b.pinStatus('udp://127.0.0.1:8111')).toEqual({ state: 'no-pin' });
    expect(lines[0]).toMatch(/direct mode/);
  });
});

describe('the keytap binary through the agent', () => {
  it('`keytap devices --json --verbose` lists the agent\'s key and reports the agent on stderr', async () => {
    const bin = new URL('../../../bin/keytap.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'devices', '--json', '--verbose'], { env: { ...process.env, KEYTAP_SOCKET: t.socket, KEYTAP_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(JSON.parse(out).devices[0]).toMatchObject({ path: deviceIdFor('authenticator', 'fake', 'CLI1'), product: 'Fake Key CLI1' });
    expect(err).toContain(`using the agent at ${t.socket}`);
  });
});
