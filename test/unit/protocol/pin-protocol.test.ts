import { describe, expect, it } from 'vitest';
import {
  PinProtocolError,
  PinProtocolV1,
  PinProtocolV2,
  changePinParams,
  encryptPinHash,
  padPin,
  pinHash16,
  pinProtocol,
  setPinParams,
  unpadPin,
  type RandomSource,
} from '../../../src/protocol/pin/pin-protocol.ts';
import { CoseKeyError, type CoseEc2PublicKey } from '../../../src/protocol/cose.ts';
import { KeytapError } from '../../../src/protocol/errors.ts';
import { Pin, SecretBytes } from '../../../src/protocol/secret.ts';
import { ClientPin } from '../../../src/protocol/ctap2/client-pin.ts';
import { parseResponse } from '../../../src/protocol/ctap2/frame.ts';
import { fromHex, toHex } from '../../../src/util/bytes.ts';
import { reassemble } from './helpers/wiredata.ts';

// fido.md §7 (python-fido2 tests/test_ctap2.py).
const PLATFORM_PRIV = fromHex('7452E599FEE739D8A653F6A507343D12D382249108A651402520B72F24FE7684');
const PLATFORM_X = '44d78d7989b97e62ea993496c9ef6e8fd58b8b00715f9a89153ddd9c4657e47f';
const PLATFORM_Y = 'ec802ee7d22bd4e100f12e48537eb4e7e96ed3a47a0a3bd5f5eeab65001664f9';
const DEVICE: CoseEc2PublicKey = {
  kty: 2, crv: 1, alg: -25,
  x: fromHex('0501D5BC78DA9252560A26CB08FCC60CBE0B6D3B8E1D1FCEE514FAC0AF675168'),
  y: fromHex('D551B3ED46F665731F95B4532939C25D91DB7EB844BD96D4ABD4083785F8DF47'),
};
const Z = '001bc4b24d2372ce13715cbf731e660586bb713408f0d1f5ad79cb1088f9e53c';
const IV = fromHex('000102030405060708090a0b0c0d0e0f');
const pin = (s: string) => Pin.fromString(s);
const hex = (s: SecretBytes) => toHex(s.exposeSecret());

describe('PIN/UV auth protocol 1 known answers (CTAP 2.1 §6.5.6; fido.md §7)', () => {
  const p = new PinProtocolV1();
  const { keyAgreement, sharedSecret } = p.encapsulate(DEVICE, PLATFORM_PRIV);

  it('derives the platform public key from the injected private key', () => {
    expect(toHex(keyAgreement.x)).toBe(PLATFORM_X);
    expect(toHex(keyAgreement.y)).toBe(PLATFORM_Y);
    expect(keyAgreement.alg).toBe(-25);
  });

  it('kdf(Z) = SHA-256(Z) = the expected shared secret', () => {
    expect(hex(p.kdf(fromHex(Z)))).toBe('c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c');
    expect(hex(sharedSecret)).toBe('c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c');
  });

  it('pinHashEnc("1234") = afe8327ce416da8ee3d057589c2ce1a9', () => {
    expect(toHex(encryptPinHash(p, sharedSecret, pin('1234')))).toBe('afe8327ce416da8ee3d057589c2ce1a9');
  });

  it('decrypts TOKEN_ENC to the token aff12c6d…', () => {
    expect(hex(p.decrypt(sharedSecret, fromHex('7A9F98E31B77BE90F9C64D12E9635040')))).toBe('aff12c6dcfbf9df52f7a09211e8865cd');
  });

  it('setPIN("1234"): newPinEnc and pinUvAuthParam', () => {
    const r = setPinParams(p, sharedSecret, pin('1234'));
    expect(toHex(r.newPinEnc)).toBe('0222fc42c6dd76a274a7057858b9b29d98e8a722ec2dc6668476168c5320473cec9907b4cd76ce7943c96ba5683943211d84471e64d9c51e54763488cd66526a');
    expect(toHex(r.pinUvAuthParam)).toBe('7b40c084ccc5794194189ab57836475f');
    expect(p.verify(sharedSecret, r.newPinEnc, r.pinUvAuthParam)).toBe(true);
  });

  it('changePIN("1234" → "4321"): newPinEnc and pinUvAuthParam over newPinEnc ‖ pinHashEnc', () => {
    const r = changePinParams(p, sharedSecret, pin('1234'), pin('4321'));
    expect(toHex(r.newPinEnc)).toBe('4280e14aac4fcbf02dd079985f0c0ffc9ea7d5f9c173fd1a4c843826f7590cb3c2d080c6923e2fe6d7a52c31ea1309d3fcca3dedae8a2ef14b6330cafc79339e');
    expect(toHex(r.pinHashEnc)).toBe('afe8327ce416da8ee3d057589c2ce1a9');
    expect(toHex(r.pinUvAuthParam)).toBe('fb97e92f3724d7c85e001d7f93e6490a');
  });

  it('rejects partial blocks and a shared secret of the wrong size with PinProtocolError', () => {
    expect(() => p.decrypt(sharedSecret, new Uint8Array(15))).toThrow(PinProtocolError);
    expect(() => p.encrypt(new SecretBytes(new Uint8Array(64)), new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'PIN_PROTOCOL_ERROR', details: { reason: 'key-length' } }));
  });

  it('authenticate is 16 bytes; verify rejects a flipped bit', () => {
    const tag = p.authenticate(sharedSecret, fromHex('00'));
    expect(tag.length).toBe(16);
    tag[0] ^= 1;
    expect(p.verify(sharedSecret, fromHex('00'), tag)).toBe(false);
    expect(p.verify(sharedSecret, fromHex('00'), tag.subarray(0, 15))).toBe(false);
  });
});

describe('PIN/UV auth protocol 2 known answers (CTAP 2.1 §6.5.7; fido.md §7)', () => {
  const fixedRandom: RandomSource = (n) => IV.slice(0, n);
  const p = new PinProtocolV2({ random: fixedRandom });
  const { keyAgreement, sharedSecret } = p.encapsulate(DEVICE, PLATFORM_PRIV);

  it('kdf gives hmacKey ‖ aesKey (HKDF-SHA-256, salt 32×00)', () => {
    expect(keyAgreement.x.length).toBe(32);
    expect(hex(sharedSecret)).toBe('65ef955dd8cfcacab489ad582d64b872299cec1970aeffb10c90b9d9f4b4f1a7' + '46cc03964825ccbaf159fde1958b2063871bd5b66ecf28972eaac583214a22d8');
    expect(hex(p.kdf(fromHex(Z)))).toBe(hex(sharedSecret));
  });

  it('pinHashEnc("1234") with IV 00..0f (injected randomness and explicit IV)', () => {
    const want = '000102030405060708090a0b0c0d0e0f09870d15a35707bcc287efb5be976011';
    expect(toHex(encryptPinHash(p, sharedSecret, pin('1234')))).toBe(want);
    expect(toHex(encryptPinHash(new PinProtocolV2(), sharedSecret, pin('1234'), IV))).toBe(want);
  });

  it('setPIN("1234"): newPinEnc and the 32-byte pinUvAuthParam', () => {
    const r = setPinParams(p, sharedSecret, pin('1234'));
    expect(toHex(r.newPinEnc)).toBe('000102030405060708090a0b0c0d0e0f76f442d0c109cfc29362cfdea56c2dd2a64f2a11b02e40df972a71df1011cf8426ff2f3887edf477a73a518467f90ff76adf360c00e8cd95e2eef66012267ec2');
    expect(toHex(r.pinUvAuthParam)).toBe('cbd8ce828e9847125882660c6f7ffd3b71e5dbb13039a2b37dbae9d50f7c34cb');
    expect(p.verify(sharedSecret, r.newPinEnc, r.pinUvAuthParam)).toBe(true);
  });

  it('changePIN: pinUvAuthParam over newPinEnc ‖ pinHashEnc with the hmacKey half', () => {
    const r = changePinParams(p, sharedSecret, pin('1234'), pin('4321'));
    expect(r.newPinEnc.length).toBe(80);
    expect(r.pinHashEnc.length).toBe(32);
    expect(r.pinUvAuthParam.length).toBe(32);
    const hmacKey = sharedSecret.exposeSecret().subarray(0, 32);
    expect(toHex(p.authenticate(hmacKey, Uint8Array.from([...r.newPinEnc, ...r.pinHashEnc])))).toBe(toHex(r.pinUvAuthParam));
    expect(hex(unpadPin(p.decrypt(sharedSecret, r.newPinEnc))!)).toBe(toHex(new TextEncoder().encode('4321')));
  });

  it('uses a fresh random IV per encryption by default', () => {
    const q = new PinProtocolV2();
    const a = q.encrypt(sharedSecret, new Uint8Array(16));
    const b = q.encrypt(sharedSecret, new Uint8Array(16));
    expect(toHex(a)).not.toBe(toHex(b));
    expect(hex(q.decrypt(sharedSecret, a))).toBe('00'.repeat(16));
  });

  it('rejects ciphertexts without an IV or with partial blocks', () => {
    expect(() => p.decrypt(sharedSecret, new Uint8Array(8))).toThrow(PinProtocolError);
    expect(() => p.decrypt(sharedSecret, new Uint8Array(20))).toThrow(PinProtocolError);
    expect(() => p.encrypt(new SecretBytes(new Uint8Array(32)), new Uint8Array(16))).toThrow(PinProtocolError);
  });
});

describe('key agreement, both sides (CTAP 2.1 §6.5.6)', () => {
  it.each([1, 2])('protocol %i: the authenticator and the platform derive the same secret', (v) => {
    const device = pinProtocol(v);
    const pair = device.generateKeyPair();
    const host = pinProtocol(v);
    const { keyAgreement, sharedSecret } = host.encapsulate(pair.publicKey);
    const deviceSecret = device.decapsulate(pair, keyAgreement);
    expect(hex(deviceSecret)).toBe(hex(sharedSecret));
    // A token encrypted by the device opens on the host.
    const token = new Uint8Array(32).fill(7);
    expect(hex(host.decrypt(sharedSecret, device.encrypt(deviceSecret, token)))).toBe(toHex(token));
  });

  it('uses the captured authenticator key (WIREDATA_CTAP_CBOR_AUTHKEY) for an encapsulation', async () => {
    const res = parseResponse(ClientPin, (await reassemble('libfido2-wiredata-fido2-2020.txt', 'WIREDATA_CTAP_CBOR_AUTHKEY')).payload);
    const enc = new PinProtocolV1().encapsulate(res.keyAgreement!);
    expect(enc.sharedSecret.length).toBe(32);
  });

  it('rejects a peer point that is not on the curve with CoseKeyError', () => {
    const y = new Uint8Array(DEVICE.y);
    y[0] ^= 0x80;
    for (const p of [new PinProtocolV1(), new PinProtocolV2()]) {
      expect(() => p.encapsulate({ ...DEVICE, y })).toThrow(CoseKeyError);
      expect(() => p.decapsulate(p.generateKeyPair(), { ...DEVICE, y })).toThrow(expect.objectContaining({ code: 'COSE_KEY_INVALID' }));
    }
  });

  it('generates key pairs from the injected randomness, skipping invalid scalars', () => {
    const draws = [new Uint8Array(32).fill(0xff), new Uint8Array(PLATFORM_PRIV)];
    const p = new PinProtocolV1({ random: () => draws.shift()! });
    const pair = p.generateKeyPair();
    expect(toHex(pair.publicKey.x)).toBe(PLATFORM_X);
    expect(String(pair.privateKey)).toBe('[redacted]');
  });

  it('a key pair prepared before the peer key is known gives the KAT secret, serves one agreement only, and prints redacted', () => {
    const draws = [new Uint8Array(32).fill(0xff), new Uint8Array(PLATFORM_PRIV)]; // the first is ≥ n: drawn again
    const p = new PinProtocolV2({ random: () => draws.shift()! });
    const pair = p.prepareEphemeral();
    expect(toHex(pair.publicKey.x)).toBe(PLATFORM_X);
    expect(String(pair)).toBe('[redacted]');
    const enc = p.encapsulate(DEVICE, pair);
    expect(enc.keyAgreement).toBe(pair.publicKey);
    expect(hex(enc.sharedSecret)).toBe(hex(new PinProtocolV2().encapsulate(DEVICE, PLATFORM_PRIV).sharedSecret));
    expect(() => p.encapsulate(DEVICE, pair)).toThrow(expect.objectContaining({ code: 'PIN_PROTOCOL_ERROR', details: { reason: 'ephemeral-reused' } }));
  });

  it('wipes the ephemeral private key it was given a copy of, not the caller\'s', () => {
    const priv = new Uint8Array(PLATFORM_PRIV);
    new PinProtocolV1().encapsulate(DEVICE, priv);
    expect(toHex(priv)).toBe(toHex(PLATFORM_PRIV));
  });
});

describe('PIN padding and hashing (CTAP 2.1 §6.5.5.5)', () => {
  it('pads to exactly 64 bytes and refuses 64-byte PINs (no room for NUL)', () => {
    const padded = padPin(new TextEncoder().encode('1234'));
    expect(padded.length).toBe(64);
    expect(hex(padded)).toBe('31323334' + '00'.repeat(60));
    expect(padPin(new Uint8Array(63).fill(0x31)).length).toBe(64);
    expect(() => padPin(new Uint8Array(64).fill(0x31))).toThrow(PinProtocolError);
  });

  it('unpadPin returns the PIN, or undefined for wrong length / no NUL', () => {
    expect(hex(unpadPin(padPin(new TextEncoder().encode('abcd')))!)).toBe('61626364');
    expect(unpadPin(new Uint8Array(63))).toBeUndefined();
    expect(unpadPin(new Uint8Array(64).fill(1))).toBeUndefined();
  });

  it('pinHash16 = LEFT(SHA-256(pin), 16)', () => {
    expect(hex(pinHash16(new TextEncoder().encode('1234')))).toBe('03ac674216f3e15c761ee1a5e255f067');
  });

  it('pinProtocol rejects unknown versions; PinProtocolError has name and code', () => {
    try {
      pinProtocol(3);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KeytapError);
      expect((e as PinProtocolError).name).toBe('PinProtocolError');
      expect((e as PinProtocolError).code).toBe('PIN_PROTOCOL_ERROR');
    }
  });
});
