/**
 * Loads the libfido2 wire data (fixtures/traces/sources/libfido2, BSD-2-Clause, Yubico AB;
 * see LICENSE-libfido2.txt there) as 64-byte units per macro (fido.md §15).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { fromHex, writeU32BE } from '../../../../src/util/bytes.ts';
import { encodeFrames } from '../../../../src/protocol/ctaphid/framing.ts';
import { CtapHidAssembler } from '../../../../src/protocol/ctaphid/assembler.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fixtures', 'traces', 'sources', 'libfido2');

export type Wiredata = Map<string, Uint8Array[]>;

export function loadWiredata(file: string): Wiredata {
  const out: Wiredata = new Map();
  let cur: Uint8Array[] | null = null;
  for (const line of readFileSync(join(DIR, file), 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const h = /^\[(\w+)\]$/.exec(t);
    if (h) {
      cur = [];
      out.set(h[1]!, cur);
      continue;
    }
    const unit = new Uint8Array(64); // a short trailing line is zero-padded (rule 1)
    unit.set(fromHex(t).subarray(0, 64));
    cur!.push(unit);
  }
  return out;
}

/** The CID INIT allocates in every capture (fido.md §15 rule 5). */
export const WIRE_CID = 0x00220002;

/** Rewrites bytes 0..3 of every unit to `cid` (CID normalisation, rule 5). */
export function normaliseCid(units: Uint8Array[], cid = WIRE_CID): Uint8Array[] {
  return units.map((u) => {
    const c = new Uint8Array(u);
    writeU32BE(c, 0, cid);
    return c;
  });
}

/** A synthesised status-only CBOR reply or other one-frame message on WIRE_CID (fido.md §15 table). */
export function synth(hex: string): Uint8Array {
  const u = new Uint8Array(64);
  u.set(fromHex(hex));
  return u;
}

/** A CBOR reply `status ‖ body` framed on WIRE_CID. */
export function cborReply(status: number, body: Uint8Array = new Uint8Array()): Uint8Array[] {
  const p = new Uint8Array(1 + body.length);
  p[0] = status;
  p.set(body, 1);
  return encodeFrames(WIRE_CID, 0x10, p);
}

/** Reassembles units into the message payload (for decoding a captured reply). */
export function assemble(units: Uint8Array[]): Uint8Array {
  const a = new CtapHidAssembler({ expectedCid: WIRE_CID });
  for (const u of normaliseCid(units)) {
    const r = a.push(u, 0);
    if (r.kind === 'complete') return r.message.payload;
  }
  throw new Error('incomplete message');
}
