import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../../src/protocol/trace/parse-trace.ts';
import { serializeTrace } from '../../../src/protocol/trace/serialize-trace.ts';
import { TraceMismatchError, TraceNotConsumedError, TraceParseError } from '../../../src/protocol/trace/trace-errors.ts';
import { matchPattern, patternBytes, patternFromBytes, patternLength } from '../../../src/protocol/trace/trace-model.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';

const HEAD = ['# keytap-trace 1', 'transport: hid', 'device: YubiKey 5 (fw 5.2.1)', 'provenance: test vector', 'license: BSD-2-Clause'];

function parseLines(...body: string[]) {
  return parseTrace([...HEAD, '', ...body].join('\n'));
}

function parseError(text: string): TraceParseError {
  try {
    parseTrace(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceParseError);
    return e as TraceParseError;
  }
  throw new Error('expected a TraceParseError');
}

describe('trace grammar', () => {
  it('parses the header block and keeps the fields in order', () => {
    const t = parseLines('=> *');
    expect(t.header).toMatchObject({ version: 1, transport: 'hid', device: 'YubiKey 5 (fw 5.2.1)', provenance: 'test vector', license: 'BSD-2-Clause' });
    expect(t.header.fields.map(([k]) => k)).toEqual(['transport', 'device', 'provenance', 'license']);
  });

  it('parses every record kind with its line number', () => {
    const t = parseLines(
      '# a comment',
      '=> ffffffff 86 0008 <any 8> ...',
      '+12.5',
      '<= ffffffff 86 0011 80435640b14ed92d 00220002 0205020105 ...',
      '<~ 00990001 bb 0001 01 ...',
      '!! timeout no answer in 100 ms',
      '!! disconnect hidraw3 went away',
      '!! error DEVICE_BUSY flock held',
      '@ card.present uid=04a1b2c3 atr=3b8f8001',
      '=> *',
    );
    const kinds = t.entries.map((e) => [e.kind, e.line]);
    expect(kinds).toEqual([
      ['comment', 7], ['send', 8], ['delay', 9], ['recv', 10], ['unsolicited', 11],
      ['fault', 12], ['fault', 13], ['fault', 14], ['event', 15], ['send', 16],
    ]);
    const recv = t.entries[3]!;
    if (recv.kind !== 'recv') throw new Error();
    expect(patternLength(recv.data)).toBe(64);
    expect(toHex(patternBytes(recv.data)).slice(0, 34 * 2)).toBe('ffffffff86001180435640b14ed92d00220002020502010500000000000000000000');
    expect(t.entries[5]).toMatchObject({ fault: 'timeout', text: 'no answer in 100 ms' });
    expect(t.entries[7]).toMatchObject({ fault: 'error', code: 'DEVICE_BUSY', text: 'flock held' });
    expect(t.entries[8]).toMatchObject({ name: 'card.present', attrs: { uid: '04a1b2c3', atr: '3b8f8001' } });
    expect(t.entries[2]).toMatchObject({ ms: 12.5 });
    expect(t.entries[9]).toEqual({ kind: 'send', line: 16 });
  });

  it('matches masked and wildcard bytes against anything, literals and padding exactly', () => {
    const t = parseLines('=> 00220002 90 0051 06 a4 01 02 02 04 <masked 4> ?? 77 ...');
    const e = t.entries[0]!;
    if (e.kind !== 'send' || !e.data) throw new Error();
    const frame = new Uint8Array(64);
    frame.set(fromHex('0022000290005106a40102020411223344aa77'));
    expect(matchPattern(e.data, frame)).toBeNull();
    const wrongLiteral = frame.slice();
    wrongLiteral[8] = 0x03;
    expect(matchPattern(e.data, wrongLiteral)).toBe(8);
    const dirtyPad = frame.slice();
    dirtyPad[40] = 1;
    expect(matchPattern(e.data, dirtyPad)).toBe(40);
    expect(matchPattern(e.data, frame.subarray(0, 63))).toBe(63);
  });

  it('round-trips through the serializer', () => {
    const text = [...HEAD, '', '=> ffffffff 86 0008 <any 8> ...', '<= 00220002 90 0005 00a1 0250 <masked 2> ...', '!! error CTAPHID_CHANNEL_BUSY busy', '@ detached', '+5', '# done'].join('\n');
    const a = parseTrace(text);
    const b = parseTrace(serializeTrace(a));
    const strip = (t: typeof a) => t.entries.map(({ line: _l, ...rest }) => rest);
    expect(strip(b)).toEqual(strip(a));
    expect(b.header).toEqual(a.header);
  });

  it('folds trailing zeros of a full report into "..." and keeps masks', () => {
    const bytes = new Uint8Array(64);
    bytes.set(fromHex('00220002900014'), 0);
    bytes.set(fromHex('00a10250'), 7);
    const wild: Array<'masked' | undefined> = new Array(64).fill(undefined);
    for (let i = 11; i < 27; i++) wild[i] = 'masked';
    const p = patternFromBytes(bytes, wild, 64);
    const t = parseLines('=> *');
    t.entries = [{ kind: 'recv', line: 0, data: p }];
    expect(serializeTrace(t)).toContain('<= 00220002 90 0014 00a10250 <masked 16> ...');
  });

  it.each([
    ['no magic line', 'transport: hid\n', 1, /first line/],
    ['unknown transport', '# keytap-trace 1\ntransport: usb\n', 2, /transport must be/],
    ['missing provenance', '# keytap-trace 1\ntransport: hid\ndevice: x\n\n=> *\n', 5, /provenance/],
    ['odd hex run', [...HEAD, '', '=> *', '<= 0022000 ...'].join('\n'), 8, /odd number/],
    ['garbage token', [...HEAD, '', '<= 00220002 zz'].join('\n'), 7, /"zz" is not hex/],
    ['padding not last', [...HEAD, '', '<= 00 ... 01'].join('\n'), 7, /must be the last/],
    ['header after records', [...HEAD, '', '=> *', 'device: other'].join('\n'), 8, /after the first record/],
    ['unknown marker', [...HEAD, '', '=> *', '', '-> 01'].join('\n'), 9, /unknown record/],
    ['error without code', [...HEAD, '', '!! error busy'].join('\n'), 7, /error code/],
    ['report too long', [...HEAD, '', `<= ${'00'.repeat(65)} ...`].join('\n'), 7, /exceed the report size 64/],
    ['duplicate field', '# keytap-trace 1\ntransport: hid\ntransport: udp\n', 3, /duplicate/],
  ])('rejects %s with the line number', (_name, text, line, reason) => {
    const e = parseError(text);
    expect(e.code).toBe('TRACE_PARSE_ERROR');
    expect(e.line).toBe(line);
    expect(e.details.line).toBe(line);
    expect(e.message).toMatch(reason);
    expect(e.message).toContain(`trace line ${line}:`);
  });

  it('names the source file in errors when given', () => {
    try {
      parseTrace('nope', { source: 'x.trace' });
      throw new Error('no error');
    } catch (e) {
      expect((e as Error).message).toMatch(/^x\.trace:1: /);
    }
  });

  it('"..." padding is refused for APDU transports', () => {
    const e = parseError('# keytap-trace 1\ntransport: pcsc\ndevice: r\nprovenance: p\n\n=> 00a4 ...\n');
    expect(e.line).toBe(6);
  });

  it('error classes carry their name and stable code', () => {
    expect(new TraceParseError(3, 'x')).toMatchObject({ name: 'TraceParseError', code: 'TRACE_PARSE_ERROR', line: 3 });
    expect(new TraceMismatchError(4, 'x', 'a', 'b')).toMatchObject({ name: 'TraceMismatchError', code: 'TRACE_MISMATCH', line: 4 });
    expect(new TraceNotConsumedError(5, 2, '<= 00')).toMatchObject({ name: 'TraceNotConsumedError', code: 'TRACE_NOT_CONSUMED', line: 5 });
  });
});
