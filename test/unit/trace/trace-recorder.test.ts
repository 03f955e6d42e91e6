import { describe, expect, it } from 'vitest';
import { TraceRecorder } from '../../../src/sim/trace/trace-recorder.ts';
import { TraceReplayer } from '../../../src/sim/trace/trace-replayer.ts';
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { encodeFrames } from '../../../src/protocol/ctaphid/framing.ts';
import { encodeCbor, decodeCbor } from '../../../src/protocol/cbor.ts';
import { concatBytes, toHex } from '../../../src/util/bytes.ts';
import { parseTrace } from '../../../src/protocol/trace/parse-trace.ts';
import type { HidConnection } from '../../../src/drivers/hid-connection.ts';

const TOKEN = new Uint8Array(32).fill(0x5a);
/** A stand-in authenticator: answers clientPIN getPinToken with TOKEN, anything else with OK. */
const handler = {
  async handleCbor(req: Uint8Array): Promise<Uint8Array> {
    if (req[0] === 0x06) {
      const m = decodeCbor(req.subarray(1)) as Map<number, unknown>;
      if (m.get(2) === 5) return concatBytes(new Uint8Array([0]), encodeCbor(new Map([[2, TOKEN]]) as never));
    }
    return new Uint8Array([0]);
  },
};

async function exchange(c: HidConnection, cid: number, cmd: number, payload: Uint8Array): Promise<Uint8Array[]> {
  for (const f of encodeFrames(cid, cmd, payload)) await c.write(f);
  const out: Uint8Array[] = [];
  let need = -1;
  let got = 0;
  while (need < 0 || got < need) {
    const r = await c.read(1000);
    if (r[4] === 0xbb) continue;
    if (r[4]! & 0x80) {
      need = (r[5]! << 8) | r[6]!;
      got = Math.min(need, 57);
    } else got += 59;
    out.push(r);
  }
  return out;
}

function changePinRequest(fill: number): Uint8Array {
  const cose = new Map<number, unknown>([[1, 2], [3, -25], [-1, 1], [-2, new Uint8Array(32).fill(fill)], [-3, new Uint8Array(32).fill(fill)]]);
  const req = new Map<number, unknown>([[1, 2], [2, 4], [3, cose], [4, new Uint8Array(32).fill(fill)], [5, new Uint8Array(80).fill(fill)], [6, new Uint8Array(32).fill(fill)]]);
  return concatBytes(new Uint8Array([0x06]), encodeCbor(req as never));
}
function tokenRequest(fill: number): Uint8Array {
  const req = new Map<number, unknown>([[1, 2], [2, 5], [3, new Map<number, unknown>([[1, 2], [-2, new Uint8Array(32).fill(fill)]])], [6, new Uint8Array(32).fill(fill)]]);
  return concatBytes(new Uint8Array([0x06]), encodeCbor(req as never));
}

async function session(c: HidConnection, nonce: number, fill: number): Promise<Uint8Array[]> {
  const init = await exchange(c, 0xffffffff, 0x06, new Uint8Array(8).fill(nonce));
  const cid = ((init[0]![15]! << 24) | (init[0]![16]! << 16) | (init[0]![17]! << 8) | init[0]![18]!) >>> 0;
  await exchange(c, cid, 0x10, changePinRequest(fill));
  return exchange(c, cid, 0x10, tokenRequest(fill));
}

describe('TraceRecorder', () => {
  it('masks clientPIN secrets and the token: no secret byte pattern reaches the trace (DESIGN.md §6)', async () => {
    const dev = new VirtualHidDevice(handler);
    const rec = new TraceRecorder({ transport: 'hid', device: 'stand-in', provenance: 'unit test' });
    const conn = rec.wrap(dev.open());
    const tokenReply = await session(conn, 0x11, 0xa7);
    await conn.close();
    // the host did get the real token
    expect(toHex(tokenReply[0]!)).toContain('5a'.repeat(32));
    const text = rec.toText();
    expect(text).not.toMatch(/a7a7/);
    expect(text).not.toMatch(/5a5a/);
    expect(text).not.toMatch(/1111/);
    // changePIN: x, y, pinUvAuthParam, newPinEnc, pinHashEnc = 32+32+32+80+32; token request 32+32; token 32
    const masked = [...text.matchAll(/<masked (\d+)>/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(masked).toBe(208 + 64 + 32);
    expect(text).toContain('<= 00000001 90 0025 00a1025820 <masked 32> ...');
    expect(text).toMatch(/=> ffffffff 86 0008 <any 8> \.\.\./);
    // a recording is a valid trace
    expect(parseTrace(text).entries.filter((e) => e.kind === 'send')).toHaveLength(1 + 5 + 2) // INIT; changePIN 238 B = 5 reports; token request 2 reports;
  });

  it('a recording replays against a host with fresh nonce and fresh secrets, fully consumed', async () => {
    const dev = new VirtualHidDevice(handler);
    const rec = new TraceRecorder({ transport: 'hid', device: 'stand-in', provenance: 'unit test' });
    const conn = rec.wrap(dev.open());
    await session(conn, 0x11, 0xa7);
    const replay = TraceReplayer.fromText(rec.toText());
    const reply = await session(replay.open(), 0x22, 0x3c);
    // the token was masked: the replay answers zeros of the same length, CBOR intact
    expect(toHex(reply[0]!.subarray(7, 12))).toBe('00a1025820');
    expect(toHex(reply[0]!.subarray(12, 44))).toBe('00'.repeat(32));
    replay.assertConsumed();
  });

  it('writes timing lines with an injected clock and records timeouts', async () => {
    let now = 1000;
    const rec = new TraceRecorder({ transport: 'udp', device: 'x', provenance: 'unit test' }, { timing: true, clock: () => now });
    const dev = new VirtualHidDevice(handler);
    const conn = rec.wrap(dev.open());
    await conn.write(encodeFrames(0xffffffff, 0x06, new Uint8Array(8))[0]!);
    now += 25;
    await conn.read(100);
    now += 40;
    await expect(conn.read(5)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const t = parseTrace(rec.toText());
    expect(t.entries.map((e) => e.kind)).toEqual(['send', 'delay', 'recv', 'delay', 'fault']);
    expect(t.entries[1]).toMatchObject({ ms: 25 });
  });
});

describe('TraceRecorder with another host on the key', () => {
  it("records the other host's frames as unsolicited (<~); the replay gives them back and the client skips them", async () => {
    const { CtapHidTransport } = await import('../../../src/fido/ctap-hid-transport.ts');
    const { FidoClient } = await import('../../../src/fido/fido-client.ts');
    const { VirtualAuthenticator } = await import('../../../src/sim/authenticator/virtual-authenticator.ts');
    const auth = new VirtualAuthenticator();
    const dev = new VirtualHidDevice(auth);
    const rec = new TraceRecorder({ transport: 'hid', device: 'virtual', provenance: 'unit test' });
    const a = await CtapHidTransport.open(rec.wrap(dev.open()), { kind: 'virtual' });
    // another application (browser, ssh) opens the same key and talks on its own channel
    const b = await CtapHidTransport.open(dev.open(), { kind: 'virtual' });
    await new FidoClient(b).getInfo();
    const live = await new FidoClient(a).getInfo();
    expect(a.ignoredFrames).toBeGreaterThan(0);
    const text = rec.toText();
    const t = parseTrace(text);
    expect(t.entries.filter((e) => e.kind === 'unsolicited').length).toBe(1 + 7); // B's INIT reply + B's 7-report getInfo reply
    const replayer = TraceReplayer.fromText(text);
    const ta = await CtapHidTransport.open(replayer.open(), { kind: 'virtual' });
    expect(await new FidoClient(ta).getInfo()).toEqual(live);
    expect(ta.ignoredFrames).toBe(a.ignoredFrames);
    replayer.assertConsumed();
  });
});
