// Property tests: framing round-trips for any payload and report size, and hostile bytes
// into every decoder fail only with typed KeytapErrors (never a TypeError or RangeError).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CtapHidAssembler } from '../../../src/protocol/ctaphid/assembler.ts';
import { ctapHidMaxMessage } from '../../../src/protocol/ctaphid/constants.ts';
import { encodeFrames } from '../../../src/protocol/ctaphid/framing.ts';
import { GetInfo } from '../../../src/protocol/ctap2/get-info.ts';
import { ClientPin } from '../../../src/protocol/ctap2/client-pin.ts';
import { MakeCredential } from '../../../src/protocol/ctap2/make-credential.ts';
import { GetAssertion, GetNextAssertion } from '../../../src/protocol/ctap2/get-assertion.ts';
import { AuthenticatorConfig } from '../../../src/protocol/ctap2/config.ts';
import { Reset } from '../../../src/protocol/ctap2/reset.ts';
import { parseAuthData } from '../../../src/protocol/ctap2/auth-data.ts';
import { encodeCbor, type CborValue } from '../../../src/protocol/cbor.ts';
import { KeytapError } from '../../../src/protocol/errors.ts';
import type { CtapCommand } from '../../../src/protocol/ctap2/command.ts';

describe('CTAPHID framing properties (CTAP 2.1 §11.2.4)', () => {
  it('encodeFrames then the assembler gives back any payload up to the maximum, for report sizes 8…64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 64 }), fc.integer({ min: 1, max: 0xfffffffe }), fc.integer({ min: 0, max: 0x7f }), fc.double({ min: 0, max: 1, noNaN: true }), (size, cid, cmd, frac) => {
        const n = Math.floor(frac * ctapHidMaxMessage(size));
        const payload = Uint8Array.from({ length: n }, (_, i) => (i * 31 + cid) & 0xff);
        const frames = encodeFrames(cid, cmd, payload, size);
        expect(frames.every((f) => f.length === size)).toBe(true);
        const a = new CtapHidAssembler({ expectedCid: cid, reportSize: size });
        const results = frames.map((f) => a.push(f, 0));
        const last = results.at(-1)!;
        expect(results.slice(0, -1).every((r) => r.kind === 'pending')).toBe(true);
        expect(last.kind).toBe('complete');
        if (last.kind === 'complete') {
          expect(last.message.cmd).toBe(cmd);
          expect(Buffer.from(last.message.payload).equals(Buffer.from(payload))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the device-side assembler never throws on arbitrary reports', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { maxLength: 20 }), (reports) => {
        const a = new CtapHidAssembler();
        for (const [i, r] of reports.entries()) {
          const res = a.push(r, i * 10);
          if (res.kind === 'error') expect(res.error).toBeInstanceOf(KeytapError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

const commands: CtapCommand<unknown, unknown>[] = [GetInfo, ClientPin, MakeCredential, GetAssertion, GetNextAssertion, AuthenticatorConfig, Reset] as never;

function typedFailureOnly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof KeytapError)) throw e;
  }
}

const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -300, max: 300 }),
    fc.string({ maxLength: 8 }),
    fc.boolean(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: -4, max: 12 }), fc.constantFrom('id', 'type', 'alg', 'name', 'rk', 'up')), tie('v')), { maxLength: 6, selector: (t) => t[0] }).map((es) => new Map(es) as CborValue),
  ),
})).v;

describe('CTAP2 decoders on hostile input', () => {
  it('random bytes: every request and response decoder fails only with a KeytapError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const c of commands) {
          typedFailureOnly(() => c.decodeRequest(bytes));
          typedFailureOnly(() => c.decodeResponse(bytes));
        }
        typedFailureOnly(() => parseAuthData(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('well-formed CBOR of the wrong shape: decoders fail only with a KeytapError', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        const bytes = encodeCbor(v);
        for (const c of commands) {
          typedFailureOnly(() => c.decodeRequest(bytes));
          typedFailureOnly(() => c.decodeResponse(bytes));
        }
      }),
      { numRuns: 400 },
    );
  });
});
