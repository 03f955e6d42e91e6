/**
 * PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7), for both the platform (host)
 * and the authenticator (virtual key). Pure computation on node:crypto with injected
 * randomness, so the known-answer vectors of fido.md §7 reproduce byte for byte.
 *
 *               protocol 1                        protocol 2
 *   kdf(Z)      SHA-256(Z)                        HKDF(salt 0³², Z, "CTAP2 HMAC key") ‖ HKDF(…, "CTAP2 AES key")
 *   encrypt     AES-256-CBC, IV 0¹⁶               AES-256-CBC(aesKey), random IV, output IV ‖ CT
 *   authenticate LEFT(HMAC-SHA-256(key, m), 16)   HMAC-SHA-256(first 32 B of key, m)
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, createHmac, randomBytes, type ECDH } from 'node:crypto';
import { assertP256OnCurve, coseEc2KeyFromUncompressed, CoseAlgorithm, p256UncompressedPoint, type CoseEc2PublicKey } from '../cose.ts';
import { KeytapError } from '../errors.ts';
import { SecretBytes } from '../secret.ts';
import { concatBytes, timingSafeEqualBytes } from '../../util/bytes.ts';

/** Source of random bytes; default node:crypto `randomBytes`. Inject a fixed one for known-answer tests. */
export type RandomSource = (n: number) => Uint8Array;

export const defaultRandom: RandomSource = (n) => new Uint8Array(randomBytes(n));

/** Bad input to a PIN/UV auth protocol operation. Code `PIN_PROTOCOL_ERROR`; `details.reason`. */
export class PinProtocolError extends KeytapError {
  constructor(message: string, reason: string) {
    super('PIN_PROTOCOL_ERROR', message, { details: { reason } });
  }
}

/** A P-256 key-agreement key pair (the authenticator's, or the platform's ephemeral one). */
export interface KeyAgreementKeyPair {
  /** 32-byte scalar. */
  privateKey: SecretBytes;
  /** COSE form with alg -25 (CTAP 2.1 §6.5.6), ready for clientPIN key 0x01/0x03. */
  publicKey: CoseEc2PublicKey;
}

/** Result of `encapsulate` (platform side). */
export interface Encapsulation {
  /** The platform's public key, sent as clientPIN key 0x03. */
  keyAgreement: CoseEc2PublicKey;
  /** kdf(Z): 32 bytes (v1) or hmacKey ‖ aesKey, 64 bytes (v2). Wipe after use. */
  sharedSecret: SecretBytes;
}

/**
 * The platform's ephemeral P-256 key pair, made ahead of the agreement so its scalar
 * multiplication runs while the key is still answering getKeyAgreement (`prepareEphemeral`).
 * Single use: `encapsulate` consumes it and a second use throws.
 */
export class EphemeralKeyPair {
  #ecdh: ECDH | null;
  /** COSE form (alg -25), sent as clientPIN keyAgreement (0x03). */
  readonly publicKey: CoseEc2PublicKey;

  /** Made by `PinUvAuthProtocol.prepareEphemeral` (or `encapsulate`) around an ECDH holding the scalar. */
  constructor(ecdh: ECDH) {
    this.#ecdh = ecdh;
    this.publicKey = coseEc2KeyFromUncompressed(new Uint8Array(ecdh.getPublicKey()), CoseAlgorithm.ECDH_ES_HKDF_256);
  }

  /** Hands the key over once; a second call throws `PinProtocolError` (reason `ephemeral-reused`). */
  take(): ECDH {
    const e = this.#ecdh;
    if (!e) throw new PinProtocolError('an ephemeral key pair serves one agreement only', 'ephemeral-reused');
    this.#ecdh = null;
    return e;
  }

  toString(): string {
    return '[redacted]';
  }
}

/** The operations both protocols share (CTAP 2.1 §6.5.4 "PIN/UV Auth Protocol Abstract Definition"). */
export interface PinUvAuthProtocol {
  readonly version: 1 | 2;
  /** Generates a P-256 key pair from the injected randomness. */
  generateKeyPair(): KeyAgreementKeyPair;
  /**
   * Platform: the ephemeral key pair for one `encapsulate`, from the injected randomness. Made
   * before the authenticator's key is known, it takes the key generation off the path between
   * getKeyAgreement's reply and the next request.
   */
  prepareEphemeral(): EphemeralKeyPair;
  /**
   * Platform: checks the authenticator's point and derives the shared secret with `ephemeral`:
   * a prepared pair, a fixed scalar (known-answer tests), or by default a fresh pair.
   */
  encapsulate(peer: CoseEc2PublicKey, ephemeral?: EphemeralKeyPair | Uint8Array): Encapsulation;
  /** Authenticator: the shared secret from its own key pair and the platform's key (point checked). */
  decapsulate(own: KeyAgreementKeyPair, peer: CoseEc2PublicKey): SecretBytes;
  /** The protocol's KDF on the ECDH x-coordinate Z. */
  kdf(z: Uint8Array): SecretBytes;
  /** Encrypts a multiple of 16 bytes; v2 prepends the IV (`iv` or 16 random bytes). */
  encrypt(shared: SecretBytes, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array;
  /** Decrypts; the plaintext (a token, a padded PIN) comes back as a secret. */
  decrypt(shared: SecretBytes, ciphertext: Uint8Array): SecretBytes;
  /** The pinUvAuthParam over `message` with a shared secret or a pinUvAuthToken. */
  authenticate(key: SecretBytes | Uint8Array, message: Uint8Array): Uint8Array;
  /** Constant-time check of `signature` against `authenticate(key, message)`. */
  verify(key: SecretBytes | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

const ZERO_IV = new Uint8Array(16);
const HKDF_SALT = new Uint8Array(32);
/** Protocol 2's HKDF info strings (CTAP 2.1 §6.5.7), each followed by the expand block counter 0x01. */
const HKDF_INFO_HMAC = new TextEncoder().encode('CTAP2 HMAC key\x01');
const HKDF_INFO_AES = new TextEncoder().encode('CTAP2 AES key\x01');

function raw(key: SecretBytes | Uint8Array): Uint8Array {
  return key instanceof SecretBytes ? key.exposeSecret() : key;
}

function aesCbc(mode: 'enc' | 'dec', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 16 !== 0) throw new PinProtocolError(`AES-CBC data of ${data.length} bytes is not a multiple of 16`, 'block-length');
  const c = mode === 'enc' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  const a = c.update(data);
  const b = c.final();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  a.fill(0);
  b.fill(0);
  return out;
}

abstract class PinProtocolBase implements PinUvAuthProtocol {
  abstract readonly version: 1 | 2;
  readonly random: RandomSource;

  constructor(options: { random?: RandomSource } = {}) {
    this.random = options.random ?? defaultRandom;
  }

  abstract kdf(z: Uint8Array): SecretBytes;
  abstract encrypt(shared: SecretBytes, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array;
  abstract decrypt(shared: SecretBytes, ciphertext: Uint8Array): SecretBytes;
  abstract authenticate(key: SecretBytes | Uint8Array, message: Uint8Array): Uint8Array;

  generateKeyPair(): KeyAgreementKeyPair {
    const { ecdh, priv } = this.#ecdhWithScalar(null);
    return { privateKey: new SecretBytes(priv), publicKey: coseEc2KeyFromUncompressed(new Uint8Array(ecdh.getPublicKey()), CoseAlgorithm.ECDH_ES_HKDF_256) };
  }

  prepareEphemeral(): EphemeralKeyPair {
    return new EphemeralKeyPair(this.#ephemeralEcdh(null));
  }

  /**
   * An ECDH object holding a copy of `scalar`, or a fresh scalar from the injected randomness,
   * with that scalar (the caller keeps or wipes it).
   */
  #ecdhWithScalar(scalar: Uint8Array | null): { ecdh: ECDH; priv: Uint8Array } {
    for (let attempt = 0; attempt < 16; attempt++) {
      const priv = scalar ? new Uint8Array(scalar) : this.random(32);
      const ecdh = createECDH('prime256v1');
      try {
        ecdh.setPrivateKey(priv);
        return { ecdh, priv };
      } catch {
        priv.fill(0);
        // A random 32-byte string is a valid scalar unless it is 0 or ≥ n (~2⁻³²): draw again.
        if (scalar) throw new PinProtocolError('the ephemeral private key is not a valid P-256 scalar', 'random');
      }
    }
    throw new PinProtocolError('random source gave no valid P-256 private key in 16 attempts', 'random');
  }

  /** `#ecdhWithScalar` for an ephemeral key: the scalar copy is wiped at once (one use only). */
  #ephemeralEcdh(scalar: Uint8Array | null): ECDH {
    const { ecdh, priv } = this.#ecdhWithScalar(scalar);
    priv.fill(0);
    return ecdh;
  }

  /** kdf(x-coordinate of ecdh's scalar × peer), wiping Z. The caller has checked `peer` is on the curve. */
  #agreeWith(ecdh: ECDH, peer: CoseEc2PublicKey): SecretBytes {
    const zBuf = ecdh.computeSecret(p256UncompressedPoint(peer));
    const z = new Uint8Array(zBuf);
    zBuf.fill(0);
    try {
      return this.kdf(z);
    } finally {
      z.fill(0);
    }
  }

  encapsulate(peer: CoseEc2PublicKey, ephemeral?: EphemeralKeyPair | Uint8Array): Encapsulation {
    // CTAP 2.1 §6.5.6: reject a peer key that is not on the curve (invalid-curve attacks),
    // before making a key pair for a peer we would refuse anyway.
    assertP256OnCurve(peer);
    // One ECDH object for the ephemeral pair and the agreement: two scalar multiplications,
    // not three (building the pair and re-importing the scalar each cost one).
    const pair = ephemeral instanceof EphemeralKeyPair ? ephemeral : new EphemeralKeyPair(this.#ephemeralEcdh(ephemeral ?? null));
    return { keyAgreement: pair.publicKey, sharedSecret: this.#agreeWith(pair.take(), peer) };
  }

  decapsulate(own: KeyAgreementKeyPair, peer: CoseEc2PublicKey): SecretBytes {
    // CTAP 2.1 §6.5.6: reject a peer key that is not on the curve (invalid-curve attacks).
    assertP256OnCurve(peer);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(own.privateKey.exposeSecret());
    return this.#agreeWith(ecdh, peer);
  }

  verify(key: SecretBytes | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const expected = this.authenticate(key, message);
    return timingSafeEqualBytes(expected, signature);
  }
}

/** PIN/UV auth protocol 1 (CTAP 2.1 §6.5.6). */
export class PinProtocolV1 extends PinProtocolBase {
  readonly version = 1 as const;

  kdf(z: Uint8Array): SecretBytes {
    const h = createHash('sha256').update(z).digest();
    const out = new Uint8Array(h);
    h.fill(0);
    return new SecretBytes(out);
  }

  #key(shared: SecretBytes): Uint8Array {
    const s = shared.exposeSecret();
    if (s.length !== 32) throw new PinProtocolError(`protocol 1 shared secret must be 32 bytes, got ${s.length}`, 'key-length');
    return s;
  }

  encrypt(shared: SecretBytes, plaintext: Uint8Array): Uint8Array {
    return aesCbc('enc', this.#key(shared), ZERO_IV, plaintext);
  }

  decrypt(shared: SecretBytes, ciphertext: Uint8Array): SecretBytes {
    return new SecretBytes(aesCbc('dec', this.#key(shared), ZERO_IV, ciphertext));
  }

  authenticate(key: SecretBytes | Uint8Array, message: Uint8Array): Uint8Array {
    const mac = createHmac('sha256', raw(key)).update(message).digest();
    const out = new Uint8Array(mac.subarray(0, 16));
    mac.fill(0);
    return out;
  }
}

/** PIN/UV auth protocol 2 (CTAP 2.1 §6.5.7). The shared secret is hmacKey ‖ aesKey (64 bytes). */
export class PinProtocolV2 extends PinProtocolBase {
  readonly version = 2 as const;

  kdf(z: Uint8Array): SecretBytes {
    // HKDF-SHA-256 (RFC 5869 §2.2-2.3) written out: both keys share one extract (same salt and
    // Z), and a 32-byte output is the first expand block T(1) = HMAC(PRK, info ‖ 0x01). Three
    // HMACs instead of two hkdfSync calls that each repeat the extract; fido.md §7 vectors check it.
    const prk = createHmac('sha256', HKDF_SALT).update(z).digest();
    const hmacKey = createHmac('sha256', prk).update(HKDF_INFO_HMAC).digest();
    const aesKey = createHmac('sha256', prk).update(HKDF_INFO_AES).digest();
    const out = new Uint8Array(64);
    out.set(hmacKey, 0);
    out.set(aesKey, 32);
    prk.fill(0);
    hmacKey.fill(0);
    aesKey.fill(0);
    return new SecretBytes(out);
  }

  #aesKey(shared: SecretBytes): Uint8Array {
    const s = shared.exposeSecret();
    if (s.length !== 64) throw new PinProtocolError(`protocol 2 shared secret must be 64 bytes, got ${s.length}`, 'key-length');
    return s.subarray(32, 64);
  }

  encrypt(shared: SecretBytes, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    const theIv = iv ?? this.random(16);
    if (theIv.length !== 16) throw new PinProtocolError(`IV must be 16 bytes, got ${theIv.length}`, 'iv-length');
    return concatBytes(theIv, aesCbc('enc', this.#aesKey(shared), theIv, plaintext));
  }

  decrypt(shared: SecretBytes, ciphertext: Uint8Array): SecretBytes {
    if (ciphertext.length < 16) throw new PinProtocolError(`protocol 2 ciphertext of ${ciphertext.length} bytes has no 16-byte IV`, 'block-length');
    return new SecretBytes(aesCbc('dec', this.#aesKey(shared), ciphertext.subarray(0, 16), ciphertext.subarray(16)));
  }

  authenticate(key: SecretBytes | Uint8Array, message: Uint8Array): Uint8Array {
    // CTAP 2.1 §6.5.7: with the 64-byte shared secret only the first 32 bytes (hmacKey) are used.
    const k = raw(key);
    const mac = createHmac('sha256', k.length > 32 ? k.subarray(0, 32) : k).update(message).digest();
    const out = new Uint8Array(mac);
    mac.fill(0);
    return out;
  }
}

/** The protocol object for a version number; throws `PinProtocolError` for others. */
export function pinProtocol(version: number, options: { random?: RandomSource } = {}): PinUvAuthProtocol {
  if (version === 1) return new PinProtocolV1(options);
  if (version === 2) return new PinProtocolV2(options);
  throw new PinProtocolError(`PIN/UV auth protocol ${version} is not supported (1 and 2 are)`, 'unsupported-version');
}

/** Maximum PIN length in bytes: the 64-byte padded block must keep a NUL (CTAP 2.1 §6.5.5.5). */
export const PIN_MAX_BYTES = 63;
/** Padded PIN block length (CTAP 2.1 §6.5.5.5). */
export const PADDED_PIN_LENGTH = 64;

/** The PIN zero-padded to exactly 64 bytes (newPinEnc plaintext). Throws `PinProtocolError` above 63 bytes. */
export function padPin(pin: SecretBytes | Uint8Array): SecretBytes {
  const p = raw(pin);
  if (p.length > PIN_MAX_BYTES) throw new PinProtocolError(`PIN of ${p.length} bytes exceeds ${PIN_MAX_BYTES} bytes`, 'pin-length');
  const out = new Uint8Array(PADDED_PIN_LENGTH);
  out.set(p);
  return new SecretBytes(out);
}

/**
 * Authenticator side: the PIN inside a decrypted 64-byte block, up to the first NUL.
 * Returns `undefined` when the block is not 64 bytes (INVALID_PARAMETER) or has no NUL
 * (PIN_POLICY_VIOLATION, as OpenSK answers).
 */
export function unpadPin(padded: SecretBytes | Uint8Array): SecretBytes | undefined {
  const p = raw(padded);
  if (p.length !== PADDED_PIN_LENGTH) return undefined;
  const end = p.indexOf(0);
  if (end < 0) return undefined;
  return new SecretBytes(p.slice(0, end));
}

/** LEFT(SHA-256(pin), 16): the pinHashEnc plaintext and what an authenticator stores. */
export function pinHash16(pin: SecretBytes | Uint8Array): SecretBytes {
  const h = createHash('sha256').update(raw(pin)).digest();
  const out = new Uint8Array(h.subarray(0, 16));
  h.fill(0);
  return new SecretBytes(out);
}

/** Encrypts a derived secret and wipes it. */
function encryptAndWipe(protocol: PinUvAuthProtocol, shared: SecretBytes, plaintext: SecretBytes, iv?: Uint8Array): Uint8Array {
  try {
    return protocol.encrypt(shared, plaintext.exposeSecret(), iv);
  } finally {
    plaintext.wipe();
  }
}

/** pinHashEnc = encrypt(shared, LEFT(SHA-256(pin), 16)) (getPinToken, 0x09, changePIN). */
export function encryptPinHash(protocol: PinUvAuthProtocol, shared: SecretBytes, pin: SecretBytes | Uint8Array, iv?: Uint8Array): Uint8Array {
  return encryptAndWipe(protocol, shared, pinHash16(pin), iv);
}

/** newPinEnc = encrypt(shared, pad64(pin)). */
export function encryptNewPin(protocol: PinUvAuthProtocol, shared: SecretBytes, pin: SecretBytes | Uint8Array, iv?: Uint8Array): Uint8Array {
  return encryptAndWipe(protocol, shared, padPin(pin), iv);
}

/** setPIN members (CTAP 2.1 §6.5.5.5): newPinEnc and pinUvAuthParam = authenticate(shared, newPinEnc). */
export function setPinParams(protocol: PinUvAuthProtocol, shared: SecretBytes, newPin: SecretBytes | Uint8Array, iv?: Uint8Array): { newPinEnc: Uint8Array; pinUvAuthParam: Uint8Array } {
  const newPinEnc = encryptNewPin(protocol, shared, newPin, iv);
  return { newPinEnc, pinUvAuthParam: protocol.authenticate(shared, newPinEnc) };
}

/**
 * changePIN members (CTAP 2.1 §6.5.5.6): newPinEnc, pinHashEnc of the current PIN, and
 * pinUvAuthParam = authenticate(shared, newPinEnc ‖ pinHashEnc). v2 takes two IVs.
 */
export function changePinParams(
  protocol: PinUvAuthProtocol,
  shared: SecretBytes,
  currentPin: SecretBytes | Uint8Array,
  newPin: SecretBytes | Uint8Array,
  ivs?: { newPin?: Uint8Array; pinHash?: Uint8Array },
): { newPinEnc: Uint8Array; pinHashEnc: Uint8Array; pinUvAuthParam: Uint8Array } {
  const newPinEnc = encryptNewPin(protocol, shared, newPin, ivs?.newPin);
  const pinHashEnc = encryptPinHash(protocol, shared, currentPin, ivs?.pinHash);
  return { newPinEnc, pinHashEnc, pinUvAuthParam: protocol.authenticate(shared, concatBytes(newPinEnc, pinHashEnc)) };
}
