/**
 * `keytap record badge-read` on a serial EM4100 reader (a real PTY pair from socat), and the
 * recording played back as the reader by SerialTracePlayer: same UID, all consumed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService, runs } from '../helpers/services.ts';
import { encodeEm4100Frame, Em4100Parser } from '../../src/protocol/rfid/em4100.ts';
import { parseTrace } from '../../src/protocol/trace/parse-trace.ts';
import { SerialTracePlayer } from '../../src/sim/trace/serial-trace.ts';
import { fromHex } from '../../src/util/bytes.ts';

const KEYTAP = join(import.meta.dirname, '..', '..', 'bin', 'keytap.js');
const gate = await requireService('socat', runs('socat', ['-V']));

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(gate.skip)('serial badge reader traces', () => {
  let socat: ChildProcess | null = null;
  afterEach(async () => {
    const s = socat;
    socat = null;
    if (s && s.exitCode === null) {
      s.kill('SIGTERM');
      await new Promise((r) => s.once('exit', r));
    }
  });

  it('records an RDM6300 badge with timing and plays it back to the same UID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-serial-trace-'));
    const host = join(dir, 'host');
    const reader = join(dir, 'reader');
    socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${reader}`], { stdio: 'ignore' });
    await until(() => existsSync(host) && existsSync(reader), 'socat PTYs');
    const out = join(dir, 'badge.trace');
    const child = spawn(process.execPath, [KEYTAP, 'record', 'badge-read', '--device', `serial:${host}:em4100`, '--out', out, '--linger-ms', '400', '--seconds', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    await until(() => stderr.includes('present a badge'), 'record to start');
    await new Promise((r) => setTimeout(r, 300)); // let the port open before the reader talks
    const frame = encodeEm4100Frame(fromHex('0a00c0ffee'), 'rdm6300');
    const fd = openSync(reader, 'w');
    try {
      // RDM6300 repeats the frame while the card is in the field
      for (let i = 0; i < 3; i++) {
        writeSync(fd, frame);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      closeSync(fd);
    }
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ uid: '0a00c0ffee', variant: 'rdm6300' });

    const text = readFileSync(out, 'utf8');
    const trace = parseTrace(text, { source: out });
    expect(trace.header.transport).toBe('serial');
    expect(trace.entries.some((e) => e.kind === 'event' && e.name === 'attached')).toBe(true);
    expect(trace.entries.filter((e) => e.kind === 'unsolicited').length).toBeGreaterThanOrEqual(1);
    expect(trace.entries.some((e) => e.kind === 'delay')).toBe(true);

    const parser = new Em4100Parser();
    const uids: string[] = [];
    const states: boolean[] = [];
    const player = SerialTracePlayer.fromText(text, { source: out, onData: (c) => uids.push(...parser.push(c).map((f) => f.uid)), onState: (s) => states.push(s) });
    await player.play();
    player.assertConsumed();
    expect(uids.length).toBeGreaterThanOrEqual(1);
    expect(new Set(uids)).toEqual(new Set(['0a00c0ffee']));
    expect(states[0]).toBe(true);
  });
});

describe('SerialTracePlayer', () => {
  it('matches host writes strictly (PN532-style command/answer) and names the line on mismatch', async () => {
    const text = '# keytap-trace 1\ntransport: serial\ndevice: pn532\nprovenance: unit\n\n@ attached\n=> 0000ff02fed4022a00\n<~ 0000ff00ff00\n';
    const got: string[] = [];
    const p = SerialTracePlayer.fromText(text, { onData: (c) => got.push(Buffer.from(c).toString('hex')) });
    await p.write(fromHex('0000ff02fed4022a00'));
    expect(got).toEqual(['0000ff00ff00']);
    p.assertConsumed();
    const q = SerialTracePlayer.fromText(text, { source: 'pn.trace', onData: () => undefined });
    await expect(q.write(fromHex('0000ff02fed4032900'))).rejects.toMatchObject({ code: 'TRACE_MISMATCH', line: 7 });
  });
});
