import { describe, expect, it } from 'vitest';
import { TraceReplayer } from '../../../src/sim/trace/trace-replayer.ts';
import { TraceMismatchError, TraceNotConsumedError } from '../../../src/protocol/trace/trace-errors.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';
import { DeviceRemovedError, TimeoutError } from '../../../src/protocol/transport-errors.ts';

const HEAD = '# keytap-trace 1\ntransport: hid\ndevice: test\nprovenance: unit test\n\n';
function report(hex: string): Uint8Array {
  const r = new Uint8Array(64);
  r.set(fromHex(hex));
  return r;
}
const INIT_REQ = (nonce: string) => report(`ffffffff860008${nonce}`);

describe('TraceReplayer (HID report seam)', () => {
  it('splices the host nonce into the INIT reply (libfido2 regress/mock.c)', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n<= ffffffff 86 0011 80435640b14ed92d 00220002 0205020105 ...\n');
    const c = r.open();
    await c.write(INIT_REQ('0102030405060708'));
    const reply = await c.read(100);
    expect(toHex(reply.subarray(0, 19))).toBe('ffffffff860011' + '0102030405060708' + '00220002');
    expect(toHex(reply.subarray(19, 24))).toBe('0205020105');
    r.assertConsumed();
  });

  it('a "=> *" line takes a whole multi-report host message', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n<= 00220002 90 0001 00 ...\n');
    const c = r.open();
    await c.write(report('00220002900050' + '06'.repeat(57)));
    await c.write(report('0022000200' + '07'.repeat(23)));
    expect(toHex((await c.read(100)).subarray(0, 8))).toBe('0022000290000100');
    r.assertConsumed();
  });

  it('names the line, expected and actual bytes when the host sends something else', async () => {
    const r = TraceReplayer.fromText(HEAD + '# getInfo\n=> 00220002 90 0001 04 ...\n<= 00220002 90 0001 00 ...\n');
    const c = r.open();
    const err = await c.write(report('00220002900001' + '06')).catch((e) => e);
    expect(err).toBeInstanceOf(TraceMismatchError);
    expect(err.code).toBe('TRACE_MISMATCH');
    expect(err.line).toBe(7);
    expect(err.details.expected).toBe('=> 00220002 90 0001 04 ...');
    expect(err.details.actual).toBe('=> 00220002 90 0001 06 ...');
    expect(err.message).toContain('byte 7');
    expect(r.failure).toBe(err);
    expect(() => r.assertConsumed()).toThrow(TraceMismatchError);
  });

  it('masked bytes match anything', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> 00220002 90 0005 06 a1 01 <masked 2> ...\n');
    await r.open().write(report('002200029000050' + '6a101' + 'beef'));
    r.assertConsumed();
  });

  it('a read where the host should send is a mismatch naming the line', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n');
    const err = await r.open().read(10).catch((e) => e);
    expect(err).toBeInstanceOf(TraceMismatchError);
    expect(err.line).toBe(6);
  });

  it('with starvedRead "timeout" a read where the host should send times out like a device', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n', { starvedRead: 'timeout' });
    await expect(r.open().read(5)).rejects.toBeInstanceOf(TimeoutError);
    expect(r.failure).toBeNull();
  });

  it('assertConsumed names the first unconsumed line (TRACE_NOT_CONSUMED)', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n<= 00220002 bb 0001 02 ...\n<= 00220002 90 0001 00 ...\n');
    const c = r.open();
    await c.write(report('00220002900001' + '04'));
    await c.read(10);
    const e = (() => {
      try {
        r.assertConsumed();
      } catch (x) {
        return x as TraceNotConsumedError;
      }
      throw new Error('not thrown');
    })();
    expect(e).toBeInstanceOf(TraceNotConsumedError);
    expect(e.code).toBe('TRACE_NOT_CONSUMED');
    expect(e.line).toBe(8);
    expect(e.details.remaining).toBe(1);
  });

  it('replays recorded faults and hotplug events', async () => {
    const events: string[] = [];
    const r = TraceReplayer.fromText(HEAD + '=> *\n!! timeout nothing\n@ detached\n@ attached\n=> *\n!! disconnect gone\n', { onEvent: (n) => events.push(n) });
    const c = r.open();
    await c.write(report('00220002900001' + '04'));
    await expect(c.read(10)).rejects.toBeInstanceOf(TimeoutError);
    await c.write(report('00220002900001' + '04'));
    expect(events).toEqual(['detached', 'attached']);
    await expect(c.read(10)).rejects.toBeInstanceOf(DeviceRemovedError);
    expect(r.attached).toBe(false);
    r.assertConsumed();
  });

  it('a write after the end of the trace is a mismatch', async () => {
    const r = TraceReplayer.fromText(HEAD + '=> *\n');
    const c = r.open();
    await c.write(report('00220002900001' + '04'));
    const e = await c.write(report('00220002900001' + '04')).catch((x) => x);
    expect(e).toBeInstanceOf(TraceMismatchError);
    expect(e.details.expected).toBe('(end of trace)');
  });
});

describe('TraceReplayer timing', () => {
  it('with honorTiming a "+ms" line delays the next record (fake timers)', async () => {
    const { vi } = await import('vitest');
    vi.useFakeTimers();
    try {
      const r = TraceReplayer.fromText(HEAD + '=> *\n+500\n<= 00220002 90 0001 00 ...\n', { honorTiming: true });
      const c = r.open();
      await c.write(report('00220002900001' + '04'));
      let got: Uint8Array | null = null;
      const p = c.read(1000).then((x) => (got = x));
      await vi.advanceTimersByTimeAsync(499);
      expect(got).toBeNull();
      await vi.advanceTimersByTimeAsync(1);
      await p;
      expect(got).not.toBeNull();
      r.assertConsumed();
    } finally {
      vi.useRealTimers();
    }
  });
});
