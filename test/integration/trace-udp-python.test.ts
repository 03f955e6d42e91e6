import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonModule, requireService } from '../helpers/services.ts';
import { TraceUdpServer } from '../../src/sim/trace/trace-udp-server.ts';
import { parseTrace } from '../../src/protocol/trace/parse-trace.ts';
import { VirtualAuthenticator } from '../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../src/sim/env.ts';
import { FidoNfcCard } from '../../src/sim/vpcd/fido-nfc-card.ts';
import { CtapNfcTransport } from '../../src/fido/nfc-transport.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';
import { TraceRecorder } from '../../src/sim/trace/trace-recorder.ts';
import { recordCtapTransport } from '../../src/sim/trace/trace-transport.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const GET_INFO = join(ROOT, 'fixtures/traces/hid/yubikey-5-fw5.2.1/get-info.trace');
const SCRIPT = join(import.meta.dirname, 'trace-udp-python.py');

function runPython(port: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('/usr/bin/python3', [SCRIPT, '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

const gate = await requireService('python3-fido2', pythonModule('fido2.hid'));

describe.skipIf(gate.skip)('python-fido2 against a served trace (UDP CTAPHID)', () => {
  let server: TraceUdpServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('python-fido2 reads getInfo of the captured YubiKey (fw 5.2.1) from the libfido2 wire data; the trace is fully consumed', async () => {
    const errors: Error[] = [];
    server = await TraceUdpServer.listen(parseTrace(readFileSync(GET_INFO, 'utf8')), { port: 0, source: 'get-info.trace', onError: (e) => errors.push(e) });
    const r = await runPython(server.address.port);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.versions).toEqual(['U2F_V2', 'FIDO_2_0', 'FIDO_2_1_PRE']);
    expect(info.aaguid).toBe('1956e5bda37445f1a814356403fdbc18'); // getInfo 0x03 in the capture
    expect(info.options.clientPin).toBe(false);
    expect(info.max_msg_size).toBe(1200);
    expect(info.device_version).toEqual([5, 2, 1]);
    expect(errors).toEqual([]);
    server.replayer.assertConsumed();
  });

  it('with loop the trace is served again to the next client (INIT after the end starts over)', async () => {
    const errors: Error[] = [];
    let consumed = 0;
    server = await TraceUdpServer.listen(parseTrace(readFileSync(GET_INFO, 'utf8')), { port: 0, loop: true, onError: (e) => errors.push(e), onConsumed: () => consumed++ });
    for (let i = 0; i < 2; i++) {
      const r = await runPython(server.address.port);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).device_version).toEqual([5, 2, 1]);
    }
    expect(consumed).toBe(2);
    expect(errors).toEqual([]);
  });

  it('a message-level trace recorded over CTAP-NFC is served over UDP CTAPHID: python-fido2 reads its getInfo', async () => {
    const card = new FidoNfcCard(new VirtualAuthenticator({ env: createSimEnv() }));
    card.powerOn();
    const rec = new TraceRecorder({ transport: 'nfc', device: 'virtual NFC key', provenance: 'test', level: 'message' });
    const nfc = await CtapNfcTransport.open({ descriptor: 'card', transmit: async (a) => card.transmit(a), close: async () => undefined });
    const recorded = await new FidoClient(recordCtapTransport(nfc, rec)).getInfo();
    const errors: Error[] = [];
    server = await TraceUdpServer.listen(parseTrace(rec.toText()), { port: 0, onError: (e) => errors.push(e) });
    const r = await runPython(server.address.port);
    expect(r.err).toBe('');
    const info = JSON.parse(r.out);
    expect(info.versions).toEqual(recorded.versions);
    expect(info.max_msg_size).toBe(recorded.maxMsgSize);
    expect(errors).toEqual([]);
    server.replayer.assertConsumed();
  });

  it('a client that asks for more than the trace holds gets CTAPHID_ERROR, and the mismatch names the line', async () => {
    const errors: Error[] = [];
    const trace = parseTrace(readFileSync(GET_INFO, 'utf8').replace(/\n=> \*\n# \[WIREDATA_CTAP_CBOR_INFO\][\s\S]*$/, '\n'));
    server = await TraceUdpServer.listen(trace, { port: 0, onError: (e) => errors.push(e) });
    const r = await runPython(server.address.port);
    expect(r.code).not.toBe(0);
    expect(errors[0]).toMatchObject({ code: 'TRACE_MISMATCH' });
    expect((errors[0] as unknown as { line: number }).line).toBeGreaterThan(0);
  });
});

const KEYTAP = join(ROOT, 'bin', 'keytap.js');

/** Starts `keytap simulate --trace FILE --udp 127.0.0.1:0`; resolves with the port from the `listening udp` line. */
function startSimulate(trace: string): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEYTAP, 'simulate', '--trace', trace, '--udp', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening udp 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`keytap simulate exited ${code}: ${err}`)));
  });
}

describe.skipIf(gate.skip)('keytap simulate --trace FILE --udp (CLI)', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = null;
  });

  it('python3-fido2 gets getInfo from `keytap simulate --trace get-info.trace --udp 127.0.0.1:0` and the trace is consumed', async () => {
    const sim = await startSimulate(GET_INFO);
    child = sim.child;
    const r = await runPython(sim.port);
    expect(r.err).toBe('');
    const info = JSON.parse(r.out);
    expect(info.versions).toEqual(['U2F_V2', 'FIDO_2_0', 'FIDO_2_1_PRE']);
    expect(info.device_version).toEqual([5, 2, 1]);
    for (let i = 0; i < 50 && !sim.stderr().includes('trace consumed'); i++) await new Promise((res) => setTimeout(res, 20));
    expect(sim.stderr()).toContain('keytap simulate: trace consumed');
  });

  it('a malformed trace is refused with its line number and exit code 64', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-trace-'));
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, '# keytap-trace 1\ntransport: hid\ndevice: x\nprovenance: y\n\n=> *\n<= 0022000 ...\n');
    const p = spawn(process.execPath, [KEYTAP, 'simulate', '--trace', bad, '--udp', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const code = await new Promise((res) => p.on('exit', res));
    expect(code).toBe(64);
    expect(err).toContain('bad.trace:7: hex run "0022000" has an odd number of digits');
  });
});
