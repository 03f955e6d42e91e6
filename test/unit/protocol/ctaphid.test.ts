import { describe, expect, it } from 'vitest';
import {
  BROADCAST_CID,
  CTAPHID_MAX_MESSAGE,
  CtapHidCapability,
  CtapHidCmd,
  CtapHidErrorCode,
  ctapHidErrorName,
  ctapHidMaxMessage,
} from '../../../src/protocol/ctaphid/constants.ts';
import { encodeFrames, parseFrame } from '../../../src/protocol/ctaphid/framing.ts';
import { CtapHidAssembler, type AssembleResult } from '../../../src/protocol/ctaphid/assembler.ts';
import { CtapHidError, CtapHidFramingError, decodeCtapHidErrorPayload } from '../../../src/protocol/ctaphid/errors.ts';
import { decodeInitRequest, decodeInitResponse, encodeInitRequest, encodeInitResponse, isInitReplyFor, nonceEquals } from '../../../src/protocol/ctaphid/init.ts';
import { decodeKeepalive, encodeKeepalive } from '../../../src/protocol/ctaphid/keepalive.ts';
import { KeytapError } from '../../../src/protocol/errors.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';
import { section } from './helpers/wiredata.ts';

const CID = 0x00220002;
const W2020 = 'libfido2-wiredata-fido2-2020.txt';

function payloadOf(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

function assemble(frames: Uint8Array[], a = new CtapHidAssembler(), now = 0): AssembleResult {
  let r: AssembleResult | undefined;
  for (const f of frames) r = a.push(f, now);
  return r!;
}

describe('CTAPHID constants (CTAP 2.1 §11.2)', () => {
  it('has the spec command, error and capability values', () => {
    expect(CtapHidCmd).toMatchObject({ PING: 0x01, MSG: 0x03, LOCK: 0x04, INIT: 0x06, WINK: 0x08, CBOR: 0x10, CANCEL: 0x11, KEEPALIVE: 0x3b, ERROR: 0x3f });
    expect(CtapHidErrorCode.CHANNEL_BUSY).toBe(0x06);
    expect(CtapHidErrorCode.INVALID_CHANNEL).toBe(0x0b);
    expect(CtapHidCapability).toEqual({ WINK: 1, LOCK: 2, CBOR: 4, NMSG: 8 });
    expect(BROADCAST_CID).toBe(0xffffffff);
    expect(ctapHidErrorName(6)).toBe('CHANNEL_BUSY');
    expect(ctapHidErrorName(0x42)).toBe('0x42');
  });

  it('max message is 57 + 128·59 = 7609 for 64-byte reports (CTAP 2.1 §11.2.4)', () => {
    expect(ctapHidMaxMessage(64)).toBe(CTAPHID_MAX_MESSAGE);
    expect(CTAPHID_MAX_MESSAGE).toBe(7609);
    expect(ctapHidMaxMessage(8)).toBe(1 + 128 * 3);
    expect(() => ctapHidMaxMessage(7)).toThrow(RangeError);
  });
});

describe('CTAPHID framing (CTAP 2.1 §11.2.4)', () => {
  it('encodes the INIT request vector of fido.md §1 (without the report-ID byte)', () => {
    const frames = encodeFrames(BROADCAST_CID, CtapHidCmd.INIT, fromHex('0102030405060708'));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(64);
    // As written to hidraw: 00 FF FF FF FF 86 00 08 01..08 — drop the leading report ID.
    const written = fromHex('00 FF FF FF FF 86 00 08 01 02 03 04 05 06 07 08');
    expect(toHex(frames[0]!.subarray(0, 15))).toBe(toHex(written.subarray(1)));
    expect(frames[0]!.subarray(15).every((b) => b === 0)).toBe(true);
  });

  it('splits into an init packet and continuations SEQ 0,1,… zero padded', () => {
    const p = payloadOf(57 + 59 + 10);
    const frames = encodeFrames(CID, CtapHidCmd.CBOR, p);
    expect(frames).toHaveLength(3);
    expect(toHex(frames[0]!.subarray(0, 7))).toBe('0022000290007e');
    expect(toHex(frames[1]!.subarray(0, 5))).toBe('0022000200');
    expect(toHex(frames[2]!.subarray(0, 5))).toBe('0022000201');
    expect(frames[2]!.subarray(15).every((b) => b === 0)).toBe(true);
    const f = parseFrame(frames[0]!);
    expect(f).toMatchObject({ type: 'init', cid: CID, cmd: 0x10, bcnt: 126 });
    expect(parseFrame(frames[2]!)).toMatchObject({ type: 'cont', cid: CID, seq: 1 });
  });

  it('encodes an empty payload as one init packet with BCNT 0', () => {
    const frames = encodeFrames(CID, CtapHidCmd.CANCEL, new Uint8Array(0));
    expect(frames).toHaveLength(1);
    expect(toHex(frames[0]!.subarray(0, 7))).toBe('00220002910000');
  });

  it('accepts a 7609-byte message as 129 frames and rejects 7610 bytes (CTAP 2.1 §11.2.4)', () => {
    const frames = encodeFrames(CID, CtapHidCmd.CBOR, payloadOf(7609));
    expect(frames).toHaveLength(129);
    expect(parseFrame(frames[128]!)).toMatchObject({ type: 'cont', seq: 127 });
    const r = assemble(frames);
    expect(r.kind).toBe('complete');
    if (r.kind === 'complete') expect(toHex(r.message.payload)).toBe(toHex(payloadOf(7609)));
    try {
      encodeFrames(CID, CtapHidCmd.CBOR, payloadOf(7610));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CtapHidFramingError);
      expect((e as CtapHidFramingError).code).toBe('CTAPHID_MESSAGE_TOO_LARGE');
      expect((e as CtapHidFramingError).details).toMatchObject({ length: 7610, max: 7609 });
    }
  });

  it('honours smaller report sizes (max for 32-byte reports)', () => {
    const max = ctapHidMaxMessage(32);
    const frames = encodeFrames(CID, CtapHidCmd.PING, payloadOf(max), 32);
    expect(frames).toHaveLength(129);
    expect(frames.every((f) => f.length === 32)).toBe(true);
    expect(assemble(frames, new CtapHidAssembler({ reportSize: 32 })).kind).toBe('complete');
    expect(() => encodeFrames(CID, CtapHidCmd.PING, payloadOf(max + 1), 32)).toThrow(CtapHidFramingError);
  });

  it('rejects a report shorter than 8 bytes with CTAPHID_INVALID_LENGTH', () => {
    expect(() => parseFrame(new Uint8Array(5))).toThrow(expect.objectContaining({ code: 'CTAPHID_INVALID_LENGTH' }));
  });
});

describe('CTAPHID assembler, host side', () => {
  it('reassembles the real 4-frame getInfo capture (libfido2 WIREDATA_CTAP_CBOR_INFO)', () => {
    const r = assemble(section(W2020, 'WIREDATA_CTAP_CBOR_INFO'), new CtapHidAssembler({ expectedCid: CID }));
    expect(r.kind).toBe('complete');
    if (r.kind !== 'complete') return;
    expect(r.message.cmd).toBe(CtapHidCmd.CBOR);
    expect(r.message.payload.length).toBe(185);
    expect(r.message.payload[0]).toBe(0); // status OK
  });

  it('ignores frames from other channels and keeps assembling (fido.md §2; yubikey-manager#546)', () => {
    const a = new CtapHidAssembler({ expectedCid: CID });
    const mine = encodeFrames(CID, CtapHidCmd.CBOR, payloadOf(100));
    const foreign = encodeFrames(0x11223344, CtapHidCmd.CBOR, payloadOf(100));
    expect(a.push(mine[0]!, 0).kind).toBe('pending');
    const ign = a.push(foreign[0]!, 1);
    expect(ign).toMatchObject({ kind: 'ignored-foreign-channel', cid: 0x11223344 });
    expect(a.push(foreign[1]!, 2).kind).toBe('ignored-foreign-channel');
    const r = a.push(mine[1]!, 3);
    expect(r.kind).toBe('complete');
    if (r.kind === 'complete') expect(toHex(r.message.payload)).toBe(toHex(payloadOf(100)));
  });

  it('ignores the foreign-CID continuation frames of the real ASSERT capture', () => {
    // _CBOR_ASSERT: init on 00220002, continuations on 0092000e (fido.md §15).
    const frames = section(W2020, 'WIREDATA_CTAP_CBOR_ASSERT');
    const a = new CtapHidAssembler({ expectedCid: CID });
    const kinds = frames.map((f) => a.push(f, 0).kind);
    expect(kinds).toEqual(['pending', 'ignored-foreign-channel', 'ignored-foreign-channel', 'ignored-foreign-channel']);
  });

  it('decodes the real keepalive frame as UPNEEDED (CTAP 2.1 §11.2.9.1.5)', () => {
    const r = assemble(section(W2020, 'WIREDATA_CTAP_KEEPALIVE'), new CtapHidAssembler({ expectedCid: CID }));
    expect(r.kind).toBe('complete');
    if (r.kind !== 'complete') return;
    expect(r.message.cmd).toBe(CtapHidCmd.KEEPALIVE);
    expect(decodeKeepalive(r.message.payload)).toEqual({ state: 'upneeded', status: 2 });
    expect(decodeKeepalive(encodeKeepalive(1)).state).toBe('processing');
    expect(decodeKeepalive(Uint8Array.of(9)).state).toBe('unknown');
    expect(() => decodeKeepalive(new Uint8Array(0))).toThrow(CtapHidFramingError);
  });
});

describe('CTAPHID assembler, errors (CTAP 2.1 §11.2.4, §11.2.5)', () => {
  const frames = encodeFrames(CID, CtapHidCmd.CBOR, payloadOf(200)); // init + 3 continuations

  it('rejects a continuation packet with an unexpected sequence number (CTAP 2.1 §11.2.4)', () => {
    const a = new CtapHidAssembler();
    a.push(frames[0]!, 0);
    a.push(frames[1]!, 0);
    const r = a.push(frames[3]!, 0); // seq 2 where 1 is due
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.error.code).toBe('CTAPHID_INVALID_SEQ');
    expect(r.error.hidError).toBe(CtapHidErrorCode.INVALID_SEQ);
    expect(r.error.details).toMatchObject({ seq: 2, expectedSeq: 1, cid: CID });
    expect(a.pendingChannels).toEqual([]); // the message was aborted
  });

  it('reports a continuation without an init packet as spurious', () => {
    const r = new CtapHidAssembler().push(frames[1]!, 0);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') {
      expect(r.error.code).toBe('CTAPHID_SPURIOUS_CONTINUATION');
      expect(r.error.hidError).toBe(CtapHidErrorCode.INVALID_SEQ);
    }
  });

  it('answers a second init packet on a busy channel with INVALID_SEQ', () => {
    const a = new CtapHidAssembler();
    a.push(frames[0]!, 0);
    const r = a.push(encodeFrames(CID, CtapHidCmd.PING, payloadOf(3))[0]!, 0);
    expect(r).toMatchObject({ kind: 'error', cid: CID });
    if (r.kind === 'error') expect(r.error.code).toBe('CTAPHID_INVALID_SEQ');
  });

  it('lets INIT resynchronise a channel mid-message (CTAP 2.1 §11.2.9.1.3)', () => {
    const a = new CtapHidAssembler();
    a.push(frames[0]!, 0);
    const r = a.push(encodeFrames(CID, CtapHidCmd.INIT, payloadOf(8))[0]!, 0);
    expect(r.kind).toBe('complete');
    if (r.kind === 'complete') expect(r.message.cmd).toBe(CtapHidCmd.INIT);
  });

  it('answers CHANNEL_BUSY when another channel is mid-message (device side, exclusive)', () => {
    const a = new CtapHidAssembler();
    a.push(frames[0]!, 0);
    const other = encodeFrames(0x01020304, CtapHidCmd.CBOR, payloadOf(10))[0]!;
    const r = a.push(other, 0);
    expect(r).toMatchObject({ kind: 'error', cid: 0x01020304 });
    if (r.kind === 'error') {
      expect(r.error.code).toBe('CTAPHID_CHANNEL_BUSY');
      expect(r.error.hidError).toBe(CtapHidErrorCode.CHANNEL_BUSY);
    }
    // Non-exclusive: both channels assemble independently.
    const b = new CtapHidAssembler({ exclusive: false });
    b.push(frames[0]!, 0);
    expect(b.push(other, 0).kind).toBe('complete');
  });

  it('rejects an init packet announcing more than 7609 bytes with INVALID_LEN', () => {
    const f = encodeFrames(CID, CtapHidCmd.CBOR, payloadOf(10))[0]!;
    f[5] = 0x1d;
    f[6] = 0xba; // 7610
    const r = new CtapHidAssembler().push(f, 0);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') {
      expect(r.error.code).toBe('CTAPHID_MESSAGE_TOO_LARGE');
      expect(r.error.hidError).toBe(CtapHidErrorCode.INVALID_LEN);
    }
  });

  it('refuses CID 0 and non-INIT commands on the broadcast channel (CTAP 2.1 §11.2.3)', () => {
    const a = new CtapHidAssembler();
    for (const [cid, cmd] of [[0, CtapHidCmd.CBOR], [BROADCAST_CID, CtapHidCmd.PING]] as const) {
      const r = a.push(encodeFrames(cid, cmd, payloadOf(1))[0]!, 0);
      expect(r.kind).toBe('error');
      if (r.kind === 'error') expect(r.error.hidError).toBe(CtapHidErrorCode.INVALID_CHANNEL);
    }
  });

  it('aborts a message not completed within the transaction timeout (CTAP 2.1 §11.2.5)', () => {
    const a = new CtapHidAssembler({ timeoutMs: 500 });
    expect(a.push(frames[0]!, 1000).kind).toBe('pending');
    expect(a.push(frames[1]!, 1500).kind).toBe('pending'); // exactly at the limit: still fine
    expect(a.expire(1500)).toEqual([]);
    const r = a.push(frames[2]!, 1501);
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.error.code).toBe('CTAPHID_TIMEOUT');
    expect(r.error.hidError).toBe(CtapHidErrorCode.MSG_TIMEOUT);
    expect(r.expired.map((x) => x.cid)).toEqual([CID]);
    expect(a.pendingChannels).toEqual([]);
  });

  it('expire(now) reports timed-out channels so a device can answer MSG_TIMEOUT', () => {
    const a = new CtapHidAssembler({ exclusive: false });
    a.push(frames[0]!, 0);
    a.push(encodeFrames(7, CtapHidCmd.CBOR, payloadOf(100))[0]!, 2000);
    const out = a.expire(3001);
    expect(out.map((x) => x.cid)).toEqual([CID]);
    expect(a.pendingChannels).toEqual([7]);
  });
});

describe('CTAPHID INIT (CTAP 2.1 §11.2.9.1.3)', () => {
  it('decodes the real INIT reply (libfido2 WIREDATA_CTAP_INIT): CID 00220002, v5.2.1, caps 0x05', () => {
    const r = assemble(section(W2020, 'WIREDATA_CTAP_INIT'), new CtapHidAssembler({ expectedCid: BROADCAST_CID }));
    expect(r.kind).toBe('complete');
    if (r.kind !== 'complete') return;
    const nonce = fromHex('80435640b14ed92d');
    expect(isInitReplyFor(r.message, nonce)).toBe(true);
    expect(isInitReplyFor(r.message, fromHex('0102030405060708'))).toBe(false);
    const init = decodeInitResponse(r.message.payload);
    expect(init).toMatchObject({ cid: 0x00220002, protocolVersion: 2, versionMajor: 5, versionMinor: 2, versionBuild: 1, capabilities: 5, wink: true, cbor: true, nmsg: false });
    expect(toHex(init.nonce)).toBe('80435640b14ed92d');
    expect(toHex(encodeInitResponse(init))).toBe(toHex(r.message.payload));
  });

  it('decodes the fido.md §1 libfido2#171 reply: CID 1, v1.0.0, caps 0x07', () => {
    const nonce = fromHex('1122334455667788');
    const init = decodeInitResponse(fromHex('1122334455667788' + '00000001' + '02010000' + '07'));
    expect(init).toMatchObject({ cid: 1, versionMajor: 1, versionMinor: 0, versionBuild: 0, capabilities: 7 });
    expect(nonceEquals(init.nonce, nonce)).toBe(true);
  });

  it('rejects INIT responses and requests of the wrong length', () => {
    expect(() => decodeInitResponse(new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'CTAPHID_INVALID_LENGTH' }));
    expect(() => decodeInitRequest(new Uint8Array(7))).toThrow(expect.objectContaining({ code: 'CTAPHID_INVALID_LENGTH' }));
    expect(() => encodeInitRequest(new Uint8Array(9))).toThrow(RangeError);
    expect(toHex(decodeInitRequest(encodeInitRequest(fromHex('0102030405060708'))))).toBe('0102030405060708');
  });

  it('ignores an INIT reply of the wrong length or on another channel', () => {
    const nonce = fromHex('0102030405060708');
    const payload = encodeInitResponse({ nonce, cid: 9, versionMajor: 1, versionMinor: 0, versionBuild: 0, capabilities: 4 });
    expect(isInitReplyFor({ cid: BROADCAST_CID, cmd: CtapHidCmd.INIT, payload }, nonce)).toBe(true);
    expect(isInitReplyFor({ cid: 9, cmd: CtapHidCmd.INIT, payload }, nonce)).toBe(false);
    expect(isInitReplyFor({ cid: BROADCAST_CID, cmd: CtapHidCmd.INIT, payload: payload.subarray(0, 16) }, nonce)).toBe(false);
  });
});

describe('CTAPHID error classes', () => {
  it('CtapHidError carries CTAPHID_<NAME> and details.hidError', () => {
    const frame = fromHex('00220002bf000106');
    const f = parseFrame(Uint8Array.from([...frame, ...new Uint8Array(56)]));
    expect(f.type).toBe('init');
    if (f.type !== 'init') return;
    const code = decodeCtapHidErrorPayload(f.data.subarray(0, f.bcnt));
    const e = new CtapHidError(code);
    expect(e).toBeInstanceOf(KeytapError);
    expect(e.name).toBe('CtapHidError');
    expect(e.code).toBe('CTAPHID_CHANNEL_BUSY');
    expect(e.details).toMatchObject({ hidError: 6 });
    expect(new CtapHidError(0x55).code).toBe('CTAPHID_UNKNOWN');
    expect(() => decodeCtapHidErrorPayload(new Uint8Array(0))).toThrow(CtapHidFramingError);
  });

  it('CtapHidFramingError has its name and stable code', () => {
    const e = new CtapHidFramingError('CTAPHID_TIMEOUT', 'x', { hidError: 5 });
    expect(e).toBeInstanceOf(KeytapError);
    expect(e.name).toBe('CtapHidFramingError');
    expect(e.code).toBe('CTAPHID_TIMEOUT');
    expect(e.hidError).toBe(5);
  });
});
