/**
 * COSE keys (RFC 9052/9053) as CTAP2 uses them: EC2 P-256 for PIN/UV key agreement
 * (CTAP 2.1 §6.5.6: `{1: 2, 3: -25, -1: 1, -2: x, -3: y}`) and credential public keys.
 * The point-on-curve check uses node:crypto (pure computation, no I/O).
 */
import type { CborMap, CborValue } from './cbor.ts';
import { DecodeError } from './errors.ts';
import { concatBytes } from '../util/bytes.ts';

/** COSE key parameter labels (RFC 9052 §7.1, RFC 9053 §7.1). */
export const CoseKeyLabel = { kty: 1, kid: 2, alg: 3, crv: -1, x: -2, y: -3 } as const;
/** COSE key types. */
export const CoseKeyType = { OKP: 1, EC2: 2, RSA: 3 } as const;
/** COSE EC curves. */
export const CoseCurve = { P256: 1, P384: 2, P521: 3, Ed25519: 6 } as const;
/** COSE algorithms seen in CTAP2. -25 is the key-agreement label (CTAP 2.1 §6.5.6), not the algorithm used. */
export const CoseAlgorithm = { ES256: -7, EdDSA: -8, ECDH_ES_HKDF_256: -25, ES384: -35, RS256: -257 } as const;

/** An EC2 P-256 public key. */
export interface CoseEc2PublicKey {
  kty: typeof CoseKeyType.EC2;
  crv: typeof CoseCurve.P256;
  /** -7 (ES256) for credentials, -25 for key agreement. */
  alg: number;
  /** 32-byte big-endian coordinates. */
  x: Uint8Array;
  y: Uint8Array;
}

/** A malformed COSE key, or a point not on P-256. Code `COSE_KEY_INVALID`; `details.reason`. */
export class CoseKeyError extends DecodeError {
  constructor(message: string, reason: 'structure' | 'not-on-curve', field?: string) {
    super(message, { code: 'COSE_KEY_INVALID', details: { reason, ...(field ? { field } : {}) } });
  }
}

/** Encodes an EC2 P-256 key as a COSE_Key map. */
export function encodeCoseEc2Key(key: CoseEc2PublicKey): CborMap {
  return new Map<number, CborValue>([
    [CoseKeyLabel.kty, CoseKeyType.EC2],
    [CoseKeyLabel.alg, key.alg],
    [CoseKeyLabel.crv, CoseCurve.P256],
    [CoseKeyLabel.x, key.x],
    [CoseKeyLabel.y, key.y],
  ]);
}

/**
 * Decodes a COSE_Key map as an EC2 P-256 key: kty 2, crv 1, alg an integer, x and y 32
 * bytes. Does not check the point (see `assertP256OnCurve`). Throws `CoseKeyError`.
 */
export function decodeCoseEc2Key(value: CborValue, field = 'COSE key'): CoseEc2PublicKey {
  const bad = (what: string) => new CoseKeyError(`${field}: ${what}`, 'structure', field);
  if (!(value instanceof Map)) throw bad('is not a map');
  if (value.get(CoseKeyLabel.kty) !== CoseKeyType.EC2) throw bad('kty (1) is not 2 (EC2)');
  if (value.get(CoseKeyLabel.crv) !== CoseCurve.P256) throw bad('crv (-1) is not 1 (P-256)');
  const alg = value.get(CoseKeyLabel.alg);
  if (typeof alg !== 'number' || !Number.isInteger(alg)) throw bad('alg (3) is not an integer');
  const x = value.get(CoseKeyLabel.x);
  const y = value.get(CoseKeyLabel.y);
  if (!(x instanceof Uint8Array) || x.length !== 32) throw bad('x (-2) is not a 32-byte string');
  if (!(y instanceof Uint8Array) || y.length !== 32) throw bad('y (-3) is not a 32-byte string');
  return { kty: CoseKeyType.EC2, crv: CoseCurve.P256, alg, x: new Uint8Array(x), y: new Uint8Array(y) };
}

/** Whether (x, y) is a point on P-256 (Chromium checks this for the authenticator's key; fido.md §4). */
export function isP256PointOnCurve(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== 32 || y.length !== 32) return false;
  // SEC 2 §2.4.2 (secp256r1): y² = x³ − 3x + b (mod p), with 0 ≤ x, y < p. Plain arithmetic
  // is ~40× faster than importing the point as a KeyObject, and the check runs on every
  // key agreement, on both sides.
  const X = bigFromBytes(x);
  const Y = bigFromBytes(y);
  if (X >= P256_P || Y >= P256_P) return false;
  return (Y * Y - (X * X * X - 3n * X + P256_B)) % P256_P === 0n;
}

const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function bigFromBytes(b: Uint8Array): bigint {
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return v;
}

/** Throws `CoseKeyError` (reason `not-on-curve`) unless `key`'s point is on P-256. */
export function assertP256OnCurve(key: CoseEc2PublicKey, field = 'keyAgreement'): void {
  if (!isP256PointOnCurve(key.x, key.y)) throw new CoseKeyError(`${field}: the point is not on the P-256 curve`, 'not-on-curve', field);
}

/** The SEC1 uncompressed point `04 ‖ x ‖ y` (65 bytes) for node:crypto ECDH. */
export function p256UncompressedPoint(key: Pick<CoseEc2PublicKey, 'x' | 'y'>): Uint8Array {
  return concatBytes(Uint8Array.of(4), key.x, key.y);
}

/** An EC2 key from a 65-byte uncompressed point. Throws `CoseKeyError` for another shape. */
export function coseEc2KeyFromUncompressed(point: Uint8Array, alg: number): CoseEc2PublicKey {
  if (point.length !== 65 || point[0] !== 4) throw new CoseKeyError('uncompressed P-256 point must be 65 bytes starting with 04', 'structure');
  return { kty: CoseKeyType.EC2, crv: CoseCurve.P256, alg, x: point.slice(1, 33), y: point.slice(33) };
}
