import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UdpCtapHidServer } from '../../src/sim/udp-server.ts';
import { VirtualAuthenticator } from '../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../src/sim/env.ts';
import { Pin } from '../../src/protocol/secret.ts';
import { parseTrace } from '../../src/protocol/trace/parse-trace.ts';
import { patternBytes } from '../../src/protocol/trace/trace-model.ts';
import { TraceReplayer } from '../../src/sim/trace/trace-replayer.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';
import { toHex } from '../../src/util/bytes.ts';

const KEYTAP = join(import.meta.dirname, '..', '..', 'bin', 'keytap.js');

function keytap(args: string[], stdin: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [KEYTAP, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.stdin.end(stdin);
    const t = setTimeout(() => p.kill('SIGKILL'), 25_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

describe('keytap record (CLI) against the virtual key over UDP', () => {
  let server: UdpCtapHidServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('records a PIN change: the key changed, the trace is masked and replays to the same result', async () => {
    const auth = new VirtualAuthenticator({ env: createSimEnv(), initialPin: Pin.fromString('4826') });
    server = await UdpCtapHidServer.listen(auth, { port: 0 });
    const out = join(mkdtempSync(join(tmpdir(), 'keytap-record-')), 'change-pin.trace');
    const r = await keytap(['record', 'pin-change', '--out', out, '--device', `udp://127.0.0.1:${server.address.port}`, '--device-name', 'keytap virtual authenticator'], '4826\n739105\n');
    expect(r.err).toMatch(/wrote \d+ records to/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(auth.pinState.pinSet).toBe(true);

    const text = readFileSync(out, 'utf8');
    const trace = parseTrace(text, { source: out });
    expect(trace.header).toMatchObject({ transport: 'udp', device: 'keytap virtual authenticator' });
    const bytes = trace.entries.flatMap((e) => (e.kind === 'send' && e.data ? [e.data] : e.kind === 'recv' ? [e.data] : [])).map((p) => toHex(patternBytes(p))).join('|');
    for (const pin of ['4826', '739105']) expect(bytes).not.toContain(toHex(new TextEncoder().encode(pin)));
    expect(text).toContain('<masked');

    const replayer = TraceReplayer.fromText(text, { source: out });
    const client = new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'udp' }));
    expect(await client.changePin(Pin.fromString('0000'), Pin.fromString('1111'))).toEqual(result);
    replayer.assertConsumed();
  });

  it('a failed operation is recorded too and exits 1 with the typed error on stdout', async () => {
    const auth = new VirtualAuthenticator({ env: createSimEnv(), initialPin: Pin.fromString('4826') });
    server = await UdpCtapHidServer.listen(auth, { port: 0 });
    const out = join(mkdtempSync(join(tmpdir(), 'keytap-record-')), 'wrong.trace');
    const r = await keytap(['record', 'pin-verify', '--out', out, '--device', `udp://127.0.0.1:${server.address.port}`], '999999\n');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ error: { code: 'PIN_INVALID', details: { retriesLeft: 7 } } });
    expect(readFileSync(out, 'utf8')).toContain('# result: error PIN_INVALID');
  });

  it('refuses to overwrite a trace without --force (exit 64)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'keytap-record-')), 'x.trace');
    const auth = new VirtualAuthenticator({ env: createSimEnv() });
    server = await UdpCtapHidServer.listen(auth, { port: 0 });
    expect((await keytap(['record', 'info', '--out', out, '--device', `udp://127.0.0.1:${server.address.port}`], '')).code).toBe(0);
    const again = await keytap(['record', 'info', '--out', out, '--device', `udp://127.0.0.1:${server.address.port}`], '');
    expect(again.code).toBe(64);
    expect(again.err).toContain('pass --force');
  });
});
