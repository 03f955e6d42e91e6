/**
 * The agent's traffic trace (DESIGN.md §8): off by default; with a trace directory every key
 * transaction becomes one masked trace file (fixture format), 0600 in a 0700 directory, that
 * never holds a PIN, the padded PIN or a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runAgent, type RunningAgent } from '../../src/main.ts';
import { KeytapClient, readToken } from '../../src/client/keytap-client.ts';
import { createLogger } from '../../src/agent/logger.ts';
import { resolveConfig } from '../../src/agent/config.ts';
import { parseTrace } from '../../src/protocol/trace/parse-trace.ts';
import { toHex } from '../../src/util/bytes.ts';
import { until } from './agent/helpers.ts';

const PINS = ['482613', '739105'];
let running: RunningAgent;
let dir: string;
let traceDir: string;
let client: KeytapClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keytap-traffic-'));
  traceDir = join(dir, 'traces');
  const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  running = await runAgent({
    flags: { listen: ['127.0.0.1:0'], socket: join(dir, 'run', 'keytap.sock'), tokenFile: join(dir, 'run', 'tokens.json'), hid: false, simulate: [''], traceDir, readers: { pcsc: false } },
    env: {},
    logger: quiet,
  });
  client = await KeytapClient.connect({ url: `ws://127.0.0.1:${running.agent.addresses!.tcp[0]!.port}/`, token: readToken(running.config.tokenFile, 'client') });
});

afterAll(async () => {
  client?.close();
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('traffic trace (DESIGN.md §8)', () => {
  it('is off unless a directory is configured', () => {
    expect(resolveConfig({ env: {} }).traceDir).toBeNull();
    expect(resolveConfig({ env: { KEYTAP_TRACE_DIR: '/x/traces' } }).traceDir).toBe('/x/traces');
  });

  it('writes one masked trace per key transaction, 0600 in a 0700 directory, with no PIN in it (DESIGN.md §6)', async () => {
    const device = ((await client.request('devices.list', {})) as { devices: Array<{ id: string; kind: string }> }).devices.find((d) => d.kind === 'authenticator')!.id;
    await client.request('fido.pin.set', { device, newPin: PINS[0] });
    await client.request('fido.pin.change', { device, currentPin: PINS[0], newPin: PINS[1] });
    await until(() => readdirSync(traceDir).length >= 2, 'trace files written');
    expect(statSync(traceDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(traceDir).filter((f) => f.endsWith('.trace'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    let masked = 0;
    for (const f of files) {
      const path = join(traceDir, f);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const text = readFileSync(path, 'utf8');
      const trace = parseTrace(text, { source: f });
      expect(trace.header.transport).toBe('hid');
      masked += (text.match(/<masked \d+>/g) ?? []).length;
      const compact = text.replace(/\s+/g, '').toLowerCase();
      for (const pin of PINS) {
        const bytes = new TextEncoder().encode(pin);
        expect(compact).not.toContain(toHex(bytes));
        const padded = new Uint8Array(64);
        padded.set(bytes);
        expect(compact).not.toContain(toHex(padded).slice(0, 24));
      }
    }
    // setPIN and changePIN carry keyAgreement, newPinEnc, pinHashEnc, pinUvAuthParam: all masked.
    expect(masked).toBeGreaterThanOrEqual(6);
  });
});
