import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertWiredata, OUT_DIR, parseWiredata, SOURCE_DIR } from '../../../scripts/convert-wiredata.ts';
import { parseTrace } from '../../../src/protocol/trace/parse-trace.ts';
import { patternBytes } from '../../../src/protocol/trace/trace-model.ts';

describe('converted libfido2 wire data (fido.md §15)', () => {
  const generated = convertWiredata();

  it('the committed traces are what scripts/convert-wiredata.ts generates (re-run it after editing)', () => {
    for (const [rel, text] of generated) {
      const path = join(OUT_DIR, rel);
      expect(existsSync(path), `${rel} missing: run npx tsx scripts/convert-wiredata.ts`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${rel} is stale: run npx tsx scripts/convert-wiredata.ts`).toBe(text);
    }
    // and no hand-made file hides among the generated ones
    for (const model of ['yubikey-5-fw5.2.1', 'libfido2-synthetic-ctap2.3']) {
      for (const f of readdirSync(join(OUT_DIR, 'hid', model))) expect(generated.has(`hid/${model}/${f}`)).toBe(true);
    }
  });

  it('every trace parses and carries the BSD-2-Clause attribution and the license file path', () => {
    for (const [rel, text] of generated) {
      const t = parseTrace(text, { source: rel });
      expect(t.header.license).toMatch(/BSD-2-Clause, Copyright \(c\) Yubico AB; see fixtures\/traces\/sources\/libfido2\/LICENSE-libfido2.txt/);
      expect(existsSync(join(OUT_DIR, '..', '..', 'fixtures/traces/sources/libfido2/LICENSE-libfido2.txt'))).toBe(true);
      expect(t.header.provenance).toMatch(/libfido2/);
    }
  });

  it('every 64-byte report of the used macros appears in the traces, CIDs normalised to 00220002', () => {
    const src = parseWiredata(readFileSync(join(SOURCE_DIR, 'libfido2-wiredata-fido2-2020.txt'), 'utf8'));
    const info = src.get('WIREDATA_CTAP_CBOR_INFO')!;
    const t = parseTrace(generated.get('hid/yubikey-5-fw5.2.1/get-info.trace')!);
    const recv = t.entries.filter((e) => e.kind === 'recv');
    expect(recv).toHaveLength(1 + info.length);
    const text = generated.get('hid/yubikey-5-fw5.2.1/get-assertion.trace')!;
    expect(text).not.toContain('0092000e');
  });

  it('the clientPin derivation changes exactly one byte of the captured getInfo (f4 -> f5)', () => {
    const bytesOf = (rel: string) =>
      parseTrace(generated.get(rel)!).entries.flatMap((e) => (e.kind === 'recv' ? [patternBytes(e.data)] : [])).slice(1, 5);
    const a = bytesOf('hid/yubikey-5-fw5.2.1/get-info.trace');
    const b = bytesOf('hid/yubikey-5-fw5.2.1/pin-retries.trace');
    const diffs: Array<[number, number, number]> = [];
    a.forEach((r, i) => r.forEach((x, j) => x !== b[i]![j] && diffs.push([x, b[i]![j]!, i])));
    expect(diffs).toEqual([[0xf4, 0xf5, 1]]);
    expect(generated.get('hid/yubikey-5-fw5.2.1/pin-retries.trace')).toContain('derived: getInfo with options.clientPin true');
  });
});
