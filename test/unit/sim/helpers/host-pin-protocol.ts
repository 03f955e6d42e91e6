/**
 * Host-side PIN/UV auth protocol for the simulator tests. Uses H1's `pin/pin-protocol.ts`
 * when present; the fallback below follows fido.md §7 directly with node:crypto.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export interface HostPinProtocol {
  kdf(z: Uint8Array): Uint8Array;
  encrypt(key: Uint8Array, pt: Uint8Array): Uint8Array;
  decrypt(key: Uint8Array, ct: Uint8Array): Uint8Array;
  authenticate(key: Uint8Array, msg: Uint8Array): Uint8Array;
}

const aes = (key: Uint8Array, iv: Uint8Array, data: Uint8Array, enc: boolean): Uint8Array => {
  const c = enc ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
};
const hmac = (k: Uint8Array, m: Uint8Array) => new Uint8Array(createHmac('sha256', k).update(m).digest());

export function hostPinProtocol(version: 1 | 2): HostPinProtocol {
  if (version === 1) {
    return {
      kdf: (z) => new Uint8Array(createHash('sha256').update(z).digest()),
      encrypt: (k, pt) => aes(k, new Uint8Array(16), pt, true),
      decrypt: (k, ct) => aes(k, new Uint8Array(16), ct, false),
      authenticate: (k, m) => hmac(k, m).slice(0, 16),
    };
  }
  const h = (z: Uint8Array, info: string) => new Uint8Array(hkdfSync('sha256', z, new Uint8Array(32), info, 32));
  const hk = (k: Uint8Array) => (k.length === 64 ? k.subarray(0, 32) : k);
  const ak = (k: Uint8Array) => (k.length === 64 ? k.subarray(32) : k);
  return {
    kdf: (z) => new Uint8Array([...h(z, 'CTAP2 HMAC key'), ...h(z, 'CTAP2 AES key')]),
    encrypt: (k, pt) => {
      const iv = new Uint8Array(randomBytes(16));
      return new Uint8Array([...iv, ...aes(ak(k), iv, pt, true)]);
    },
    decrypt: (k, ct) => aes(ak(k), ct.subarray(0, 16), ct.subarray(16), false),
    authenticate: (k, m) => hmac(hk(k), m),
  };
}
