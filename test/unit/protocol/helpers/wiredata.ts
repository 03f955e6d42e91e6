// Loads the libfido2 wire-data captures (BSD-2-Clause, Yubico AB; see
// fixtures/traces/sources/libfido2/LICENSE-libfido2.txt) as 64-byte reports per macro.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromHex } from '../../../../src/util/bytes.ts';

export const WIREDATA_DIR = fileURLToPath(new URL('../../../../fixtures/traces/sources/libfido2', import.meta.url));

/** Reports per `[NAME]` section; short trailing lines are zero-padded to 64 bytes. */
export function loadWiredata(file: string): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  let current: Uint8Array[] | undefined;
  for (const raw of readFileSync(`${WIREDATA_DIR}/${file}`, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(\w+)\]$/.exec(line);
    if (m) {
      current = [];
      out.set(m[1]!, current);
    } else if (current) {
      const b = fromHex(line);
      const r = new Uint8Array(64);
      r.set(b.subarray(0, 64));
      current.push(r);
    }
  }
  return out;
}

export function section(file: string, name: string): Uint8Array[] {
  const s = loadWiredata(file).get(name);
  if (!s) throw new Error(`no [${name}] in ${file}`);
  return s;
}

/**
 * Reassembles one message from captured reports, rewriting every frame's CID to the init
 * packet's (fido.md §15 rule 5: some macros carry foreign CIDs on continuations).
 * Returns the CTAPHID payload (for CBOR: status ‖ body).
 */
export async function reassemble(file: string, name: string): Promise<{ cid: number; cmd: number; payload: Uint8Array }> {
  const { CtapHidAssembler } = await import('../../../../src/protocol/ctaphid/assembler.ts');
  const frames = section(file, name).map((f) => new Uint8Array(f));
  const cid = frames[0]!.subarray(0, 4);
  for (const f of frames) f.set(cid, 0);
  const a = new CtapHidAssembler({ expectedCid: ((cid[0]! << 24) | (cid[1]! << 16) | (cid[2]! << 8) | cid[3]!) >>> 0 });
  for (const f of frames) {
    const r = a.push(f, 0);
    if (r.kind === 'complete') return r.message;
    if (r.kind !== 'pending') throw new Error(`${name}: ${r.kind}`);
  }
  throw new Error(`${name}: message incomplete after ${frames.length} frames`);
}
