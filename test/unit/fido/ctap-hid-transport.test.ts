import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { BROADCAST_CID, CtapHidCmd } from '../../../src/protocol/ctaphid/constants.ts';
import { encodeFrames, parseFrame } from '../../../src/protocol/ctaphid/framing.ts';
import { encodeInitResponse } from '../../../src/protocol/ctaphid/init.ts';
import { Deadline } from '../../../src/util/deadline.ts';
import { ScriptedConnection, TEST_CID, answerInit, fixedRandom } from './helpers/scripted-connection.ts';

function initFrame(nonce: Uint8Array, cid: number): Uint8Array[] {
  return encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, encodeInitResponse({ nonce, cid, versionMajor: 1, versionMinor: 0, versionBuild: 0, capabilities: 0x05 }));
}

async function openScripted(): Promise<{ conn: ScriptedConnection; t: CtapHidTransport }> {
  const conn = new ScriptedConnection();
  conn.onWrite = (r, c) => void answerInit(c, r);
  const t = await CtapHidTransport.open(conn, { random: fixedRandom });
  return { conn, t };
}

const KA = (s: number, cid = TEST_CID): Uint8Array => encodeFrames(cid, CtapHidCmd.KEEPALIVE, Uint8Array.of(s))[0]!;
const ERR = (code: number, cid = TEST_CID): Uint8Array => encodeFrames(cid, CtapHidCmd.ERROR, Uint8Array.of(code))[0]!;

describe('CtapHidTransport INIT (CTAP 2.1 §11.2.9.1.3)', () => {
  it('sends an 8-byte nonce on the broadcast channel and takes the CID from the matching reply', async () => {
    const { conn, t } = await openScripted();
    const f = parseFrame(conn.writes[0]!);
    expect(f).toMatchObject({ type: 'init', cid: BROADCAST_CID, cmd: CtapHidCmd.INIT, bcnt: 8 });
    expect([...f.data.subarray(0, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(t.cid).toBe(TEST_CID);
    expect(t.capabilities).toBe(0x05);
  });

  it('ignores INIT replies carrying another process\'s nonce, and short INIT replies (fido.md §1)', async () => {
    const conn = new ScriptedConnection();
    conn.onWrite = (r, c) => {
      const nonce = parseFrame(r).data.slice(0, 8);
      c.queue(...initFrame(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9), 0x11111111)); // someone else's
      c.queue(...encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, nonce)); // wrong length (8, not 17)
      c.queue(...initFrame(nonce, 0x33333333));
    };
    const t = await CtapHidTransport.open(conn, { random: fixedRandom });
    expect(t.cid).toBe(0x33333333);
  });

  it('fails with TIMEOUT when no matching INIT reply arrives within the INIT budget', async () => {
    vi.useFakeTimers();
    try {
      const conn = new ScriptedConnection();
      const p = CtapHidTransport.open(conn, { random: fixedRandom, initBudgetMs: 3000 });
      const check = expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
      await vi.advanceTimersByTimeAsync(3100);
      await check;
      expect(conn.closed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('CtapHidTransport exchange', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reassembles a multi-packet reply and skips frames on other channels (CTAP 2.1 §11.2.4; libfido2 rx_preamble)', async () => {
    const { conn, t } = await openScripted();
    const body = Uint8Array.from({ length: 200 }, (_, i) => i & 0xff);
    conn.onWrite = (_r, c) => {
      const [first, ...rest] = encodeFrames(TEST_CID, CtapHidCmd.CBOR, body);
      c.queue(first!, KA(1, 0x0092000e), ...encodeFrames(0x0091000e, CtapHidCmd.CBOR, Uint8Array.of(0x31)), ...rest);
    };
    const reply = await t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04));
    expect(reply).toEqual(body);
    expect(t.ignoredFrames).toBe(2);
  });

  it('writes a large request as one init packet and continuation packets with SEQ 0, 1, …', async () => {
    const { conn, t } = await openScripted();
    conn.onWrite = (r, c) => {
      const f = parseFrame(r);
      if (f.type === 'cont' && f.seq === 2) c.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0));
    };
    await t.exchange(CtapHidCmd.CBOR, new Uint8Array(57 + 59 * 3));
    const sent = conn.writes.slice(1).map(parseFrame);
    expect(sent.map((f) => (f.type === 'cont' ? f.seq : 'init'))).toEqual(['init', 0, 1, 2]);
  });

  it('reports keepalive status once per change (python-fido2 on_keepalive)', async () => {
    const { conn, t } = await openScripted();
    conn.onWrite = (_r, c) => c.queue(KA(2), KA(2), KA(2), KA(1), KA(1), ...encodeFrames(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0)));
    const seen: string[] = [];
    await t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x07), { onKeepalive: (s) => seen.push(s) });
    expect(seen).toEqual(['up-needed', 'processing']);
  });

  it('retries CHANNEL_BUSY with back-off and then succeeds (fido.md §2)', async () => {
    const { conn, t } = await openScripted();
    let n = 0;
    conn.onWrite = (_r, c) => {
      n++;
      if (n <= 2) c.queue(ERR(0x06));
      else c.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0, 0xa0));
    };
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04), { deadline: Deadline.in(5000) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await p).toEqual(Uint8Array.of(0, 0xa0));
    expect(n).toBe(3);
  });

  it('gives up on CHANNEL_BUSY with DEVICE_BUSY when the deadline is spent', async () => {
    const { conn, t } = await openScripted();
    let n = 0;
    conn.onWrite = (_r, c) => {
      n++;
      c.queue(ERR(0x06));
    };
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04), { deadline: Deadline.in(2000) });
    const check = expect(p).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    await vi.advanceTimersByTimeAsync(2500);
    await check;
    expect(n).toBeGreaterThan(2);
  });

  it('decodes other CTAPHID_ERROR codes into a typed error', async () => {
    const { conn, t } = await openScripted();
    conn.onWrite = (_r, c) => c.queue(ERR(0x01));
    await expect(t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04))).rejects.toMatchObject({ code: 'CTAPHID_INVALID_CMD', name: 'CtapHidError' });
  });

  it('bounds a device that keeps sending keepalives past the deadline, and cancels it (authenticator-rs#360)', async () => {
    const { conn, t } = await openScripted();
    conn.onIdle = () => ({ report: KA(2), delayMs: 100 });
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x07), { deadline: Deadline.in(3000) });
    const check = expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
    await vi.advanceTimersByTimeAsync(3200);
    await check;
    expect(conn.writtenCommands().at(-1)).toEqual({ cid: TEST_CID, cmd: CtapHidCmd.CANCEL });
  });

  it('fails a device that goes silent after a keepalive before the whole budget is spent (keepalive watchdog)', async () => {
    const conn = new ScriptedConnection();
    conn.onWrite = (r, c) => void answerInit(c, r);
    const t = await CtapHidTransport.open(conn, { random: fixedRandom, keepaliveSilenceMs: 2000 });
    conn.onWrite = (_r, c) => c.queue(KA(1));
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x01), { deadline: Deadline.in(30_000) });
    const check = expect(p).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('stopped answering') });
    await vi.advanceTimersByTimeAsync(2100);
    await check;
  });

  it('sends CTAPHID_CANCEL on abort, waits for the 0x2D answer, and rejects with CANCELLED (CTAP 2.1 §11.2.9.1.5)', async () => {
    const { conn, t } = await openScripted();
    conn.onWrite = (r, c) => {
      const f = parseFrame(r);
      if (f.type === 'init' && f.cmd === CtapHidCmd.CANCEL) c.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0x2d));
      else c.queue(KA(2));
    };
    const ac = new AbortController();
    const seen: string[] = [];
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x01), { signal: ac.signal, onKeepalive: (s) => seen.push(s) });
    const check = expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.advanceTimersByTimeAsync(10);
    ac.abort();
    await vi.advanceTimersByTimeAsync(10);
    await check;
    expect(seen).toEqual(['up-needed']);
    expect(conn.writtenCommands().at(-1)).toEqual({ cid: TEST_CID, cmd: CtapHidCmd.CANCEL });
  });

  it('refuses a request above the maximum message size before writing (7609 B, CTAP 2.1 §11.2.4)', async () => {
    const { conn, t } = await openScripted();
    const before = conn.writes.length;
    await expect(t.exchange(CtapHidCmd.CBOR, new Uint8Array(7610))).rejects.toMatchObject({ code: 'REQUEST_TOO_LARGE' });
    t.limitMessageSize(1200);
    expect(t.maxMessageSize).toBe(1200);
    await expect(t.exchange(CtapHidCmd.CBOR, new Uint8Array(1201))).rejects.toMatchObject({ code: 'REQUEST_TOO_LARGE' });
    expect(conn.writes.length).toBe(before);
  });

  it('an idle channel writes the request before exchange() returns; a queued one waits for the running exchange', async () => {
    const { conn, t } = await openScripted();
    const before = conn.writes.length;
    conn.onWrite = () => {};
    const a = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04));
    // Synchronously on the wire: the caller can work while the key answers.
    expect(conn.writes.length).toBe(before + 1);
    const b = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x06));
    await Promise.resolve();
    expect(conn.writes.length).toBe(before + 1);
    conn.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0, 4));
    expect(await a).toEqual(Uint8Array.of(0, 4));
    await vi.waitFor(() => expect(conn.writes.length).toBe(before + 2));
    expect(parseFrame(conn.writes[before + 1]!)).toMatchObject({ type: 'init', data: expect.objectContaining({ 0: 0x06 }) });
    conn.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0, 6));
    expect(await b).toEqual(Uint8Array.of(0, 6));
  });

  it('serialises concurrent exchanges on one channel', async () => {
    const { conn, t } = await openScripted();
    let inFlight = 0;
    let maxInFlight = 0;
    conn.onWrite = (r, c) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const cmdByte = parseFrame(r).type === 'init' ? (parseFrame(r) as { data: Uint8Array }).data[0]! : 0;
      setTimeout(() => {
        inFlight--;
        c.queueMessage(TEST_CID, CtapHidCmd.CBOR, Uint8Array.of(0, cmdByte));
      }, 50);
    };
    conn.onIdle = null;
    const a = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04));
    const b = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x06));
    await vi.advanceTimersByTimeAsync(200);
    expect(await a).toEqual(Uint8Array.of(0, 4));
    expect(await b).toEqual(Uint8Array.of(0, 6));
    expect(maxInFlight).toBe(1);
  });
});
