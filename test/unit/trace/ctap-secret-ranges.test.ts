import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../../src/protocol/cbor.ts';
import { requestSecretRanges, responseSecretRanges } from '../../../src/protocol/trace/ctap-secret-ranges.ts';
import { concatBytes } from '../../../src/util/bytes.ts';

const pinHashEnc = new Uint8Array(16).fill(0xaa);
const newPinEnc = new Uint8Array(64).fill(0xbb);
const pinAuth = new Uint8Array(16).fill(0xcc);
const x = new Uint8Array(32).fill(0xdd);
const y = new Uint8Array(32).fill(0xee);

function covered(ranges: ReadonlyArray<readonly [number, number]>, msg: Uint8Array, value: number): boolean {
  // every byte with this fill value lies inside a range
  return [...msg].every((b, i) => b !== value || ranges.some(([s, e]) => i >= s && i < e));
}

describe('secret ranges of CTAP2 messages (CTAP 2.1 §6.5.5)', () => {
  it('covers keyAgreement, pinUvAuthParam, newPinEnc and pinHashEnc of changePIN (subcommand 0x04)', () => {
    const cose = new Map<number, unknown>([[1, 2], [3, -25], [-1, 1], [-2, x], [-3, y]]);
    const req = new Map<number, unknown>([[1, 2], [2, 4], [3, cose], [4, pinAuth], [5, newPinEnc], [6, pinHashEnc]]);
    const msg = concatBytes(new Uint8Array([0x06]), encodeCbor(req as never));
    const r = requestSecretRanges(msg);
    for (const v of [0xaa, 0xbb, 0xcc, 0xdd, 0xee]) expect(covered(r, msg, v)).toBe(true);
    // protocol (1) and subcommand (2) stay visible
    expect(r.some(([s]) => s < 5)).toBe(false);
    expect(r.reduce((n, [s, e]) => n + e - s, 0)).toBe(16 + 64 + 16 + 32 + 32);
  });

  it('covers the pinUvAuthToken of a getPinToken response and nothing of a retries response', () => {
    const token = new Uint8Array(32).fill(0x77);
    const resp = concatBytes(new Uint8Array([0]), encodeCbor(new Map([[2, token]]) as never));
    expect(responseSecretRanges(0x06, resp)).toEqual([[5, 37]]); // 00 a1 02 5820 <32 bytes>;
    const retries = concatBytes(new Uint8Array([0]), encodeCbor(new Map([[3, 8]]) as never));
    expect(responseSecretRanges(0x06, retries)).toEqual([]);
  });

  it('covers pinUvAuthParam of getAssertion (key 0x06) but not the clientDataHash', () => {
    const cdh = new Uint8Array(32).fill(0x11);
    const msg = concatBytes(new Uint8Array([0x02]), encodeCbor(new Map<number, unknown>([[1, 'example.com'], [2, cdh], [6, pinAuth], [7, 2]]) as never));
    const r = requestSecretRanges(msg);
    expect(covered(r, msg, 0xcc)).toBe(true);
    expect(covered(r, msg, 0x11)).toBe(false);
  });

  it('masks the whole CBOR part of a truncated clientPIN request', () => {
    expect(requestSecretRanges(new Uint8Array([0x06, 0xa6, 0x01]))).toEqual([[1, 3]]);
  });

  it('leaves getInfo alone', () => {
    expect(requestSecretRanges(new Uint8Array([0x04]))).toEqual([]);
  });
});
