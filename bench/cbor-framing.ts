/**
 * Throughput of the pure codecs: canonical CBOR encode/decode of a getInfo-sized map.
 * Reports operations per second and MB/s; compares keytap's encoder with JSON.stringify of
 * the same structure as an in-run baseline (a ratio, not an absolute goal).
 */
import { encodeCbor, decodeCbor } from '../src/protocol/cbor.ts';

function bench(name: string, n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(1000, n); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0);
  const opsPerSec = (n / ns) * 1e9;
  console.log(`${name.padEnd(40)} ${opsPerSec.toFixed(0).padStart(10)} ops/s  ${(ns / n / 1000).toFixed(2)} µs/op`);
  return ns / n;
}

const info = new Map<number, unknown>([
  [1, ['U2F_V2', 'FIDO_2_0', 'FIDO_2_1_PRE', 'FIDO_2_1']],
  [2, ['credProtect', 'hmac-secret', 'largeBlobKey', 'credBlob', 'minPinLength']],
  [3, new Uint8Array(16).fill(7)],
  [4, new Map<string, boolean>([['rk', true], ['up', true], ['plat', false], ['clientPin', true], ['credMgmt', true], ['authnrCfg', true], ['pinUvAuthToken', true], ['setMinPINLength', true], ['makeCredUvNotRqd', false]])],
  [5, 1200],
  [6, [2, 1]],
  [7, 8],
  [8, 128],
  [9, ['nfc', 'usb']],
  [10, [new Map<string, unknown>([['alg', -7], ['type', 'public-key']]), new Map<string, unknown>([['alg', -8], ['type', 'public-key']])]],
  [13, 4],
  [14, 328707],
]);
const encoded = encodeCbor(info as never);
console.log(`getInfo-sized map: ${encoded.length} bytes`);
const enc = bench('cbor encode (canonical)', 50_000, () => encodeCbor(info as never));
const dec = bench('cbor decode', 50_000, () => decodeCbor(encoded));
const plain = Object.fromEntries([...info].map(([k, v]) => [k, v instanceof Map ? Object.fromEntries(v) : v]));
const json = bench('baseline: JSON.stringify same data', 50_000, () => JSON.stringify(plain));
console.log(`ratio encode/JSON.stringify: ${(enc / json).toFixed(2)}x   decode: ${((encoded.length / dec) * 1e3).toFixed(1)} MB/s`);
