import { describe, expect, it } from 'vitest';
import { Em4100Parser, encodeEm4100Frame } from '../../src/protocol/rfid/em4100.ts';
import { PresenceTracker } from '../../src/protocol/rfid/presence.ts';
import {
  decodeFirmwareVersion,
  decodeInListPassiveTargetA,
  encodePn532Command,
  inListPassiveTargetTypeA,
  Pn532Cmd,
  Pn532FrameDecoder,
  samConfigurationNormal,
} from '../../src/protocol/rfid/pn532.ts';
import { concatBytes, fromHex, toHex } from '../../src/util/bytes.ts';

// reference/readers.md §6 worked vectors.
export const EM4100_VECTORS: Array<[string, string, 'rdm6300' | 'id12', string]> = [
  ['RDM6300 62E3086CED', '02 36 32 45 33 30 38 36 43 45 44 30 38 03', 'rdm6300', '62e3086ced'],
  ['ID-12 0C000621A5', '02 30 43 30 30 30 36 32 31 41 35 38 45 0D 0A 03', 'id12', '0c000621a5'],
  ['ID-12 0F00A1B2C3', '02 30 46 30 30 41 31 42 32 43 33 44 46 0D 0A 03', 'id12', '0f00a1b2c3'],
];

describe('EM4100 ASCII frames (readers.md §6)', () => {
  it.each(EM4100_VECTORS)('%s parses whole and split at every byte boundary', (_n, hex, variant, uid) => {
    const bytes = fromHex(hex);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = new Em4100Parser();
      const frames = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
      expect(frames.length).toBe(1);
      expect(frames[0]!.variant).toBe(variant);
      expect(frames[0]!.uid).toBe(uid);
    }
  });
  it('RDM6300 ID is 0xE3086CED = 3808980205', () => {
    const [f] = new Em4100Parser().push(fromHex(EM4100_VECTORS[0]![1]));
    expect(f!.id).toBe(3808980205);
  });
  it.each(EM4100_VECTORS)('encodeEm4100Frame reproduces %s', (_n, hex, variant, uid) => {
    expect(toHex(encodeEm4100Frame(fromHex(uid), variant))).toBe(toHex(fromHex(hex)));
  });
  it('accepts lower-case hex', () => {
    const p = new Em4100Parser();
    expect(p.push(encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300', { lowerCase: true }))[0]!.uid).toBe('62e3086ced');
  });
  it('drops a bad checksum and counts it', () => {
    const p = new Em4100Parser();
    expect(p.push(encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300', { badChecksum: true }))).toEqual([]);
    expect(p.counters.badChecksum).toBe(1);
  });
  it('resyncs on STX inside a truncated frame, with garbage between frames', () => {
    const good = encodeEm4100Frame(fromHex('0f00a1b2c3'), 'id12');
    const stream = concatBytes(fromHex('ff 41 0d'), good.subarray(0, 7), good, fromHex('13 37 03 0a'), good, fromHex('02 5a'), encodeEm4100Frame(fromHex('62e3086ced'), 'rdm6300'));
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new Em4100Parser();
      const frames = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      expect(frames.map((f) => f.uid)).toEqual(['0f00a1b2c3', '0f00a1b2c3', '62e3086ced']);
      expect(p.counters.malformed).toBe(2);
    }
  });
  it('rejects a frame whose tail is neither 03 nor 0D 0A 03', () => {
    const p = new Em4100Parser();
    expect(p.push(fromHex('02 30 43 30 30 30 36 32 31 41 35 38 45 0D 0B 03'))).toEqual([]);
    expect(p.counters.malformed).toBe(1);
  });
});

describe('PresenceTracker: tap in once, tap out after the quiet period', () => {
  it('debounces repeats and removes after quietMs', () => {
    const t = new PresenceTracker(500);
    expect(t.seen('a', 0)).toEqual([{ type: 'present', uid: 'a' }]);
    expect(t.seen('a', 100)).toEqual([]);
    expect(t.tick(599)).toEqual([]);
    expect(t.nextDeadline()).toBe(600);
    expect(t.tick(600)).toEqual([{ type: 'removed', uid: 'a' }]);
    expect(t.seen('a', 700)).toEqual([{ type: 'present', uid: 'a' }]);
  });
  it('a different card removes the old one first', () => {
    const t = new PresenceTracker(500);
    t.seen('a', 0);
    expect(t.seen('b', 10)).toEqual([
      { type: 'removed', uid: 'a' },
      { type: 'present', uid: 'b' },
    ]);
    expect(t.clear()).toEqual([{ type: 'removed', uid: 'b' }]);
  });
});

describe('PN532 frames (readers.md §7, UM0701-02 §6.2)', () => {
  it.each([
    ['GetFirmwareVersion', encodePn532Command(Pn532Cmd.GetFirmwareVersion), '0000ff02fed4022a00'],
    ['SAMConfiguration', samConfigurationNormal(), '0000ff05fbd414011401 02 00'],
    ['InListPassiveTarget', inListPassiveTargetTypeA(), '0000ff04fcd44a0100e100'],
  ])('%s command frame', (_n, frame, hex) => expect(toHex(frame)).toBe(toHex(fromHex(hex))));

  it('extended frame for > 255 bytes has LENm LENl LCS and a valid DCS', () => {
    const f = encodePn532Command(0x40, new Uint8Array(300).fill(1));
    expect(toHex(f.subarray(0, 8))).toBe('0000ffffff012ed1');
    const [fr] = new Pn532FrameDecoder().push(f);
    expect(fr).toMatchObject({ kind: 'info', tfi: 0xd4, code: 0x40 });
    if (fr?.kind === 'info') expect(fr.data.length).toBe(300);
  });

  const stream = fromHex('0000ff00ff00' + '0000ff06fad50332010607e800' + '0000ff0cf4d54b0101000408046232 2b1ff000' + '0000ffff0000' + '0000ff01ff7f8100');
  it('decodes ACK, firmware, target, NACK and error split at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const dec = new Pn532FrameDecoder();
      const frames = [...dec.push(stream.subarray(0, cut)), ...dec.push(stream.subarray(cut))];
      expect(frames.map((f) => f.kind)).toEqual(['ack', 'info', 'info', 'nack', 'error']);
      const fw = frames[1]!;
      if (fw.kind === 'info') {
        expect(fw.code).toBe(0x03);
        expect(decodeFirmwareVersion(fw.data)).toEqual({ ic: 0x32, version: '1.6', support: 7 });
      }
      const tg = frames[2]!;
      if (tg.kind === 'info') {
        expect(tg.code).toBe(0x4b);
        const [t] = decodeInListPassiveTargetA(tg.data);
        expect(toHex(t!.uid)).toBe('62322b1f');
        expect(t!.selRes).toBe(0x08);
        expect(t!.sensRes).toBe(0x0004);
      }
    }
  });
  it('counts and drops bad LCS and DCS, then resyncs', () => {
    const dec = new Pn532FrameDecoder();
    const frames = dec.push(fromHex('0000ff06fbd50332010607e800' + '0000ff06fad50332010607e900' + 'aa55' + '0000ff00ff00'));
    expect(frames.map((f) => f.kind)).toEqual(['ack']);
    expect(dec.counters.badLengthChecksum).toBe(1);
    expect(dec.counters.badDataChecksum).toBe(1);
  });
});
