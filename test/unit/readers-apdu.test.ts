import { describe, expect, it } from 'vitest';
import { decodeCommandApdu, decodeResponseApdu, encodeCommandApdu, encodeResponseApdu, followUp, getResponseApdu, selectAidApdu } from '../../src/protocol/iso7816/apdu.ts';
import { describeStatusWord, statusWordName, StatusWord } from '../../src/protocol/iso7816/status-words.ts';
import { ApduFormatError, ApduStatusError } from '../../src/protocol/iso7816/errors.ts';
import { CommandChainAssembler, encodeNfcCtapMsg, FIDO_AID, nfcCtapGetResponseApdu, ResponseChunker } from '../../src/protocol/iso7816/nfcctap.ts';
import { classifyVpcdMessage, encodeVpcdFrame, VpcdFrameDecoder } from '../../src/protocol/iso7816/vpcd.ts';
import { concatBytes, fromHex, toHex } from '../../src/util/bytes.ts';

const d = (n: number, v = 0xab) => new Uint8Array(n).fill(v);

describe('command APDU cases (ISO 7816-4 §5.1)', () => {
  const cases: Array<[string, Parameters<typeof encodeCommandApdu>[0], boolean, string]> = [
    ['case 1', { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: d(0), le: null }, false, '00a40400'],
    ['case 2S Le 256', { cla: 0xff, ins: 0xca, p1: 0, p2: 0, data: d(0), le: 256 }, false, 'ffca000000'],
    ['case 3S', { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: FIDO_AID, le: null }, false, '00a4040008a0000006472f0001'],
    ['case 4S', { cla: 0x80, ins: 0x10, p1: 0x80, p2: 0, data: Uint8Array.of(4), le: 256 }, false, '801080000104' + '00'],
    ['case 2E', { cla: 0, ins: 0xb0, p1: 0, p2: 0, data: d(0), le: 65536 }, true, '00b00000000000'],
    ['case 3E', { cla: 0x80, ins: 0x10, p1: 0, p2: 0, data: d(300), le: null }, true, '80100000' + '00012c' + 'ab'.repeat(300)],
    ['case 4E', { cla: 0x80, ins: 0x10, p1: 0x80, p2: 0, data: d(2), le: 65536 }, true, '8010800000' + '0002abab' + '0000'],
  ];
  it.each(cases)('%s encodes and decodes', (_n, cmd, ext, hex) => {
    const enc = encodeCommandApdu(cmd, { extended: ext });
    expect(toHex(enc)).toBe(hex);
    const dec = decodeCommandApdu(enc);
    expect(dec.extended).toBe(ext);
    expect(toHex(dec.data)).toBe(toHex(cmd.data));
    expect(dec.le).toBe(cmd.le);
    expect([dec.cla, dec.ins, dec.p1, dec.p2]).toEqual([cmd.cla, cmd.ins, cmd.p1, cmd.p2]);
  });
  it('chooses extended form for data > 255 bytes', () => {
    expect(encodeCommandApdu({ cla: 0, ins: 1, p1: 0, p2: 0, data: d(256), le: null })[4]).toBe(0);
  });
  it.each([['00a4'], ['00a4040005a000'], ['00a404000000'], ['00a4040000000500']])('rejects malformed %s', (hex) => {
    expect(() => decodeCommandApdu(fromHex(hex))).toThrow(ApduFormatError);
  });
});

describe('response APDUs and status words', () => {
  it('splits data and SW', () => {
    const r = decodeResponseApdu(fromHex('62322b1f9000'));
    expect(toHex(r.data)).toBe('62322b1f');
    expect(r.sw).toBe(0x9000);
    expect(toHex(encodeResponseApdu(r.data, r.sw))).toBe('62322b1f9000');
  });
  it('rejects a 1-byte response', () => expect(() => decodeResponseApdu(Uint8Array.of(0x90))).toThrow(ApduFormatError));
  it.each([
    [0x9000, 'SUCCESS'],
    [0x6d00, 'INS_NOT_SUPPORTED'],
    [0x6a82, 'FILE_NOT_FOUND'],
    [0x6110, 'MORE_DATA(16)'],
    [0x6100, 'MORE_DATA(256)'],
    [0x6c08, 'WRONG_LE(8)'],
    [0x63c2, 'COUNTER(2)'],
    [0x9100, 'NFCCTAP_UPDATE'],
    [0x1234, 'UNKNOWN'],
  ])('names %s', (sw, name) => expect(statusWordName(sw)).toBe(name));
  it('ApduStatusError carries the SW and its name', () => {
    const e = new ApduStatusError('GET DATA', StatusWord.FUNCTION_NOT_SUPPORTED);
    expect(e.name).toBe('ApduStatusError');
    expect(e.code).toBe('APDU_STATUS');
    expect(e.details).toMatchObject({ sw: '6a81', swName: 'FUNCTION_NOT_SUPPORTED' });
    expect(e.message).toContain(describeStatusWord(0x6a81));
    expect(new ApduFormatError('x').code).toBe('APDU_MALFORMED');
  });
});

describe('61XX and 6CXX follow-ups (§5.1.3)', () => {
  it('61XX asks for GET RESPONSE with Le = XX', () => {
    const f = followUp(fromHex('80108000010400'), { data: d(0), sw: 0x6140 });
    expect(f.kind).toBe('get-response');
    if (f.kind === 'get-response') expect(toHex(f.apdu)).toBe('00c0000040');
  });
  it('6CXX resends the command with Le = XX', () => {
    const f = followUp(fromHex('ffca000000'), { data: d(0), sw: 0x6c04 });
    expect(f.kind).toBe('resend');
    if (f.kind === 'resend') expect(toHex(f.apdu)).toBe('ffca000004');
  });
  it('9000 is done', () => expect(followUp(fromHex('ffca000000'), { data: d(0), sw: 0x9000 }).kind).toBe('done'));
  it('GET RESPONSE for 256 is Le 00', () => expect(toHex(getResponseApdu(256))).toBe('00c0000000'));
  it('SELECT FIDO AID', () => expect(toHex(selectAidApdu(FIDO_AID))).toBe('00a4040008a0000006472f000100'));
});

describe('CTAP over NFC framing (CTAP 2.1 §11.3, python-fido2 0.9.1 pcsc.py)', () => {
  it('a short message is one 80 10 80 00 APDU with Le 00', () => {
    const apdus = encodeNfcCtapMsg(Uint8Array.of(0x04));
    expect(apdus.map(toHex)).toEqual(['80108000010400']);
  });
  it.each([250, 251, 500, 501, 1200])('%i bytes chain in 250-byte pieces with CLA 0x90', (n) => {
    const payload = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
    const apdus = encodeNfcCtapMsg(payload);
    expect(apdus.length).toBe(Math.ceil(n / 250));
    for (const a of apdus.slice(0, -1)) {
      expect(a[0]).toBe(0x90);
      expect(a[4]).toBe(250);
      expect(a.length).toBe(5 + 250);
    }
    const last = apdus[apdus.length - 1]!;
    expect(last[0]).toBe(0x80);
    expect(last[last.length - 1]).toBe(0);
    // The card-side assembler gets the payload back.
    const asm = new CommandChainAssembler();
    let whole = null;
    for (const a of apdus) whole = asm.push(decodeCommandApdu(a));
    expect(whole).not.toBeNull();
    expect(toHex(whole!.data)).toBe(toHex(payload));
    expect(whole!.cla).toBe(0x80);
    expect(asm.pending).toBe(false);
  });
  it('extended form is a single APDU with Le 00 00', () => {
    const [a] = encodeNfcCtapMsg(d(600), { extended: true });
    expect(toHex(a!.subarray(0, 7))).toBe('80108000000258');
    expect(toHex(a!.subarray(a!.length - 2))).toBe('0000');
  });
  it('NFCCTAP_GETRESPONSE is 80 11 00 00 00', () => expect(toHex(nfcCtapGetResponseApdu())).toBe('8011000000'));
  it('a chain interrupted by another INS is refused', () => {
    const asm = new CommandChainAssembler();
    asm.push({ cla: 0x90, ins: 0x10, p1: 0x80, p2: 0, data: d(10), le: null });
    expect(() => asm.push({ cla: 0x00, ins: 0xa4, p1: 4, p2: 0, data: d(8), le: 256 })).toThrow(ApduFormatError);
    expect(asm.pending).toBe(false);
  });
  it('ResponseChunker hands out 61XX pieces then the final SW', () => {
    const data = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const ch = new ResponseChunker();
    const parts = [decodeResponseApdu(ch.start(data, 0x9000, 256))];
    while (ch.pending) parts.push(decodeResponseApdu(ch.next(parts[parts.length - 1]!.sw & 0xff)));
    expect(parts.map((p) => p.sw)).toEqual([0x6100, 0x6158, 0x9000]);
    expect(toHex(concatBytes(...parts.map((p) => p.data)))).toBe(toHex(data));
  });
});

describe('vpcd framing (readers.md §4)', () => {
  const trace = fromHex('0001 04 0001 01 0001 00 0005 ffca000000 0001 00');
  it('decodes the wire trace split at every byte boundary', () => {
    for (let cut = 0; cut <= trace.length; cut++) {
      const dec = new VpcdFrameDecoder();
      const msgs = [...dec.push(trace.subarray(0, cut)), ...dec.push(trace.subarray(cut))];
      expect(msgs.map((m) => classifyVpcdMessage(m).kind)).toEqual(['get-atr', 'power-on', 'power-off', 'apdu', 'power-off']);
      expect(dec.buffered).toBe(0);
    }
  });
  it('frames a reply with a 2-byte big-endian length', () => {
    expect(toHex(encodeVpcdFrame(fromHex('62322b1f9000')))).toBe('000662322b1f9000');
  });
  it('names control bytes', () => {
    expect(classifyVpcdMessage(Uint8Array.of(2))).toEqual({ kind: 'reset' });
    expect(classifyVpcdMessage(Uint8Array.of(9))).toEqual({ kind: 'control', byte: 9 });
  });
});
