/**
 * The authenticator's half of PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7;
 * fido.md §7): its key-agreement key, decapsulation of the platform's key, and the
 * encrypt/decrypt/verify primitives. Randomness (private keys, v2 IVs) is injected so the
 * virtual authenticator stays deterministic under test.
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, createHmac, hkdfSync, type ECDH } from 'node:crypto';
import { assertP256OnCurve, coseEc2KeyFromUncompressed, CoseAlgorithm, p256UncompressedPoint, type CoseEc2PublicKey } from '../../protocol/cose.ts';
import { concatBytes, timingSafeEqualBytes } from '../../util/bytes.ts';

const ZERO_IV = new Uint8Array(16);
const HKDF_SALT = new Uint8Array(32);

/** One protocol's device-side operations. */
export interface DevicePinProtocol {
  readonly version: 1 | 2;
  /** Shared secret from the ECDH x-coordinate Z (v1: SHA-256(Z); v2: HMAC key ‖ AES key via HKDF). */
  kdf(z: Uint8Array): Uint8Array;
  /** Encrypts a multiple of 16 bytes (v1: IV 0; v2: random IV prepended). */
  encrypt(shared: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Decrypts; null when the length is not a valid ciphertext length. */
  decrypt(shared: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  /** Checks `LEFT(HMAC, 16)` (v1) or the full 32-byte HMAC (v2) in constant time. */
  verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

function aes(key: Uint8Array, iv: Uint8Array, data: Uint8Array, encrypt: boolean): Uint8Array {
  const c = encrypt ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function hmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(message).digest());
}

/** PIN/UV auth protocol 1 (CTAP 2.1 §6.5.6). */
export function devicePinProtocolV1(): DevicePinProtocol {
  return {
    version: 1,
    kdf: (z) => new Uint8Array(createHash('sha256').update(z).digest()),
    encrypt: (shared, pt) => aes(shared.subarray(0, 32), ZERO_IV, pt, true),
    decrypt: (shared, ct) => (ct.length === 0 || ct.length % 16 !== 0 ? null : aes(shared.subarray(0, 32), ZERO_IV, ct, false)),
    // v1 tokens may be 16 or 32 bytes; the signature is the first 16 bytes of the HMAC.
    verify: (key, msg, sig) => sig.length === 16 && timingSafeEqualBytes(hmac(key, msg).subarray(0, 16), sig),
  };
}

/** PIN/UV auth protocol 2 (CTAP 2.1 §6.5.7). The shared secret is hmacKey[32] ‖ aesKey[32]. */
export function devicePinProtocolV2(random: (n: number) => Uint8Array): DevicePinProtocol {
  const hkdf = (z: Uint8Array, info: string) => new Uint8Array(hkdfSync('sha256', z, HKDF_SALT, info, 32));
  // A token (32 bytes) is used directly as the HMAC key; a 64-byte shared secret uses its first half.
  const hmacKey = (k: Uint8Array) => (k.length === 64 ? k.subarray(0, 32) : k);
  const aesKey = (k: Uint8Array) => (k.length === 64 ? k.subarray(32, 64) : k);
  return {
    version: 2,
    kdf: (z) => concatBytes(hkdf(z, 'CTAP2 HMAC key'), hkdf(z, 'CTAP2 AES key')),
    encrypt: (shared, pt) => {
      const iv = random(16);
      return concatBytes(iv, aes(aesKey(shared), iv, pt, true));
    },
    decrypt: (shared, ct) => {
      if (ct.length < 32 || ct.length % 16 !== 0) return null;
      return aes(aesKey(shared), ct.subarray(0, 16), ct.subarray(16), false);
    },
    verify: (key, msg, sig) => sig.length === 32 && timingSafeEqualBytes(hmac(hmacKey(key), msg), sig),
  };
}

/** The authenticator's ephemeral key-agreement key (regenerated at power-up and after a wrong PIN). */
export class KeyAgreementKey {
  #ecdh: ECDH;
  readonly publicKey: CoseEc2PublicKey;

  constructor(random: (n: number) => Uint8Array) {
    const ecdh = createECDH('prime256v1');
    // Injected randomness: a private scalar outside [1, n-1] is rejected by setPrivateKey; draw again.
    for (;;) {
      try {
        ecdh.setPrivateKey(random(32));
        break;
      } catch {
        /* retry */
      }
    }
    this.#ecdh = ecdh;
    this.publicKey = coseEc2KeyFromUncompressed(new Uint8Array(ecdh.getPublicKey()), CoseAlgorithm.ECDH_ES_HKDF_256);
  }

  /**
   * ECDH with the platform's key → Z (32 bytes). Throws when the point is not on P-256
   * (the caller answers INVALID_PARAMETER).
   */
  sharedZ(platformKey: CoseEc2PublicKey): Uint8Array {
    assertP256OnCurve(platformKey, 'keyAgreement');
    return new Uint8Array(this.#ecdh.computeSecret(p256UncompressedPoint(platformKey)));
  }
}
