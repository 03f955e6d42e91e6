/**
 * libfido2 wire-data replay (fido.md §15) through a node-hid mock: the real NodeHidConnection,
 * CtapHidTransport and FidoClient run on the captured device→host reports; the host requests,
 * which the captures lack, are checked for structure and crypto (fido.md §7).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createECDH, createHash, createHmac, createDecipheriv } from 'node:crypto';

const mock = vi.hoisted(() => ({
  script: [] as Array<Uint8Array | { delayMs: number; report: Uint8Array } | 'stream-keepalive'>,
  writes: [] as Buffer[],
  spliced: false,
  stream: null as Uint8Array | null,
}));
vi.mock('node-hid', () => {
  class HIDAsync {
    static async open() {
      return {
        async write(b: Buffer) {
          // libfido2 regress/mock.c: a write is exactly report ID 0 + 64 bytes.
          if (b.length !== 65 || b[0] !== 0) throw new Error(`mock: write of ${b.length} bytes (want 65 with report ID 0)`);
          mock.writes.push(Buffer.from(b));
          if (!mock.spliced) {
            // Nonce splice (rule 4): write[8..16) → INIT[7..15) before the first read.
            const first = mock.script[0];
            if (first instanceof Uint8Array) first.set(b.subarray(8, 16), 7);
            mock.spliced = true;
          }
          return 65;
        },
        async read(timeoutMs: number) {
          const next = mock.script.shift();
          if (next === undefined) {
            if (mock.stream) {
              const ka = mock.stream;
              mock.script.unshift(); // keep streaming
              await new Promise((r) => setTimeout(r, 100));
              return Buffer.from(ka);
            }
            await new Promise((r) => setTimeout(r, timeoutMs));
            return undefined;
          }
          if (next instanceof Uint8Array) return Buffer.from(next);
          if (next === 'stream-keepalive') return undefined;
          await new Promise((r) => setTimeout(r, next.delayMs));
          return Buffer.from(next.report);
        },
        async close() {},
      };
    }
  }
  const devicesAsync = async () => [{ path: '/dev/hidraw0', vendorId: 0x1050, productId: 0x0407, usagePage: 0xf1d0, usage: 1, serialNumber: 'A1', release: 0, interface: 1 }];
  return { default: { HIDAsync, devicesAsync }, HIDAsync, devicesAsync };
});

const { openFidoDevice } = await import('../../../src/fido/open-device.ts');
const { FidoClient } = await import('../../../src/fido/fido-client.ts');
const { Pin } = await import('../../../src/protocol/secret.ts');
const { Deadline } = await import('../../../src/util/deadline.ts');
const { ClientPin } = await import('../../../src/protocol/ctap2/client-pin.ts');
const { GetAssertion } = await import('../../../src/protocol/ctap2/get-assertion.ts');
const { decodeAuthenticatorInfo, encodeAuthenticatorInfo } = await import('../../../src/protocol/ctap2/get-info.ts');
const { CtapHidAssembler } = await import('../../../src/protocol/ctaphid/assembler.ts');
const { fromHex, toHex } = await import('../../../src/util/bytes.ts');
const { loadWiredata, normaliseCid, synth, cborReply, assemble } = await import('./helpers/wiredata.ts');

const W = loadWiredata('libfido2-wiredata-fido2-2020.txt');
const W26 = loadWiredata('libfido2-wiredata-fido2-2026.txt');
const R = loadWiredata('libfido2-regress-cred.txt');
const get = (w: typeof W, name: string) => normaliseCid(w.get(`WIREDATA_CTAP_${name}`) ?? w.get(name)!);
const INIT = () => [new Uint8Array(W.get('WIREDATA_CTAP_INIT')![0]!)];

/** The captured getInfo with some members changed (e.g. clientPin true): re-encoded, framed on the wire CID. */
function infoWith(w: typeof W, patch: (i: ReturnType<typeof decodeAuthenticatorInfo>) => void): Uint8Array[] {
  const payload = assemble(w.get('WIREDATA_CTAP_CBOR_INFO')!);
  const info = decodeAuthenticatorInfo(payload.subarray(1));
  patch(info);
  return cborReply(0, encodeAuthenticatorInfo(info));
}
const INFO_PIN = () => infoWith(W, (i) => (i.options = { ...i.options, clientPin: true }));
const RETRIES = (n: number, powerCycle?: boolean) =>
  [synth(powerCycle === undefined ? `00220002900004 00 a1 03 ${n.toString(16).padStart(2, '0')}` : `00220002900006 00 a2 03 ${n.toString(16).padStart(2, '0')} 04 ${powerCycle ? 'f5' : 'f4'}`)];
const STATUS = (code: number) => [synth(`00220002900001${code.toString(16).padStart(2, '0')}`)];

/** Host→device CBOR requests written so far (command byte ‖ CBOR), in order. */
function requests(): Uint8Array[] {
  const a = new CtapHidAssembler({ exclusive: false });
  const out: Uint8Array[] = [];
  for (const w of mock.writes) {
    const r = a.push(new Uint8Array(w.subarray(1)), 0);
    if (r.kind === 'complete' && r.message.cmd === 0x10) out.push(r.message.payload);
  }
  return out;
}
const clientPinRequests = () => requests().filter((r) => r[0] === 0x06).map((r) => ClientPin.decodeRequest(r.subarray(1)));

// fido.md §7 platform key: injected as the "random" ephemeral private key, so the test can redo the ECDH.
const PLATFORM_PRIV = fromHex('7452E599FEE739D8A653F6A507343D12D382249108A651402520B72F24FE7684');
const random = (n: number) => (n === 32 ? new Uint8Array(PLATFORM_PRIV) : new Uint8Array(n).fill(0x5a));

function sharedV1(): Uint8Array {
  const auth = ClientPin.decodeResponse(assemble(W.get('WIREDATA_CTAP_CBOR_AUTHKEY')!).subarray(1)).keyAgreement!;
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(PLATFORM_PRIV);
  const z = ecdh.computeSecret(Buffer.concat([Buffer.of(4), auth.x, auth.y]));
  return new Uint8Array(createHash('sha256').update(z).digest());
}
const aesDec = (key: Uint8Array, iv: Uint8Array, ct: Uint8Array) => {
  const d = createDecipheriv('aes-256-cbc', key, iv);
  d.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
};
const hmac16 = (key: Uint8Array, m: Uint8Array) => new Uint8Array(createHmac('sha256', key).update(m).digest().subarray(0, 16));

async function client() {
  return new FidoClient(await openFidoDevice('/dev/hidraw0'), { random });
}

beforeEach(() => {
  mock.script.length = 0;
  mock.writes.length = 0;
  mock.spliced = false;
  mock.stream = null;
});
afterEach(() => {
  // Replay rule: everything fed was consumed.
  expect(mock.script).toEqual([]);
});

describe('wire-data replay: getInfo and PIN state (fido.md §15)', () => {
  it('getInfo of the YubiKey 5.2.1 capture: FIDO_2_1_PRE, clientPin false, maxMsgSize 1200, protocol 1', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'));
    const c = await client();
    const info = await c.getInfo();
    expect(info.versions).toContain('FIDO_2_1_PRE');
    expect(info.options?.clientPin).toBe(false);
    expect(info.maxMsgSize).toBe(1200);
    expect(info.pinUvAuthProtocols).toEqual([1]);
    expect((c.transport as unknown as { maxMessageSize: number }).maxMessageSize).toBe(1200);
    expect((c.transport as { capabilities: number }).capabilities).toBe(0x05);
  });

  it('getInfo of the synthetic CTAP 2.3 capture: protocols [2,1], maxPINLength 63', async () => {
    mock.script.push(...INIT(), ...get(W26, 'CBOR_INFO'));
    const info = await (await client()).getInfo();
    expect(info.pinUvAuthProtocols).toEqual([2, 1]);
    expect(info.maxPINLength).toBe(63);
  });

  it('a frame on a foreign channel is skipped (yubikey-manager#546; fido.md §15 rule 5)', async () => {
    const foreign = W.get('WIREDATA_CTAP_CBOR_CREDMAN_META')![0]!; // original CID 00120004
    mock.script.push(...INIT(), foreign, ...get(W, 'CBOR_INFO'));
    const c = await client();
    expect((await c.getInfo()).maxMsgSize).toBe(1200);
    expect((c.transport as unknown as { ignoredFrames: number }).ignoredFrames).toBe(1);
  });

  it('pinStatus without a PIN is no-pin and never polls retries (fido.md §5, pico-fido#288)', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'));
    const s = await (await client()).pinStatus();
    expect(s).toMatchObject({ state: 'no-pin', retriesLeft: null, minLength: 4, maxLength: 63 });
    expect(requests().map((r) => r[0])).toEqual([0x04]);
  });

  it('pinStatus with a PIN reads getPINRetries {3: 8} → ok with 8 left', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'));
    const s = await (await client()).pinStatus();
    expect(s).toMatchObject({ state: 'ok', retriesLeft: 8, maxRetries: 8, powerCycleRequired: false });
    expect(clientPinRequests()).toEqual([{ pinUvAuthProtocol: 1, subCommand: 0x01 }]);
  });

  it('powerCycleState true → soft-blocked; 0 retries → blocked; forcePINChange → change-required', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...RETRIES(5, true));
    expect(await (await client()).pinStatus()).toMatchObject({ state: 'soft-blocked', retriesLeft: 5, powerCycleRequired: true });
    mock.spliced = false;
    mock.script.push(...INIT(), ...INFO_PIN(), ...RETRIES(0));
    expect(await (await client()).pinStatus()).toMatchObject({ state: 'blocked', retriesLeft: 0 });
    mock.spliced = false;
    mock.script.push(...INIT(), ...infoWith(W, (i) => ((i.options = { ...i.options, clientPin: true }), (i.forcePINChange = true))), ...RETRIES(8));
    expect(await (await client()).pinStatus()).toMatchObject({ state: 'change-required', retriesLeft: 8 });
  });

  it('a key with built-in UV also reports getUVRetries (key 0x05) as uvRetriesLeft', async () => {
    mock.script.push(...INIT(), ...infoWith(W, (i) => (i.options = { ...i.options, clientPin: true, uv: true })), ...RETRIES(8), synth('00220002900004 00 a1 05 03'));
    const s = await (await client()).pinStatus();
    expect(s).toMatchObject({ state: 'ok', retriesLeft: 8, uvRetriesLeft: 3 });
    expect(clientPinRequests().map((r) => r.subCommand)).toEqual([0x01, 0x07]);
  });

  it('0x35 PIN_NOT_SET to getPINRetries is read as no-pin (YubiKey; fido.md §14.3)', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...STATUS(0x35));
    expect(await (await client()).pinStatus()).toMatchObject({ state: 'no-pin', retriesLeft: null });
  });
});

describe('wire-data replay: setPIN / changePIN requests (fido.md §4, §7)', () => {
  it('setPIN sends {1: 1, 2: 3, 3: COSE key, 4: 16-B param, 5: 64-B newPinEnc} that decrypts to the padded PIN, then verifies ok 8', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'), ...get(W, 'CBOR_AUTHKEY'), ...get(W, 'CBOR_STATUS'), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'));
    const pin = Pin.fromString('1234');
    const s = await (await client()).setPin(pin);
    expect(s).toMatchObject({ state: 'ok', retriesLeft: 8 });
    expect(pin.wiped).toBe(true);
    const [ka, set] = clientPinRequests();
    expect(ka).toEqual({ pinUvAuthProtocol: 1, subCommand: 0x02 });
    expect(Object.keys(set!).sort()).toEqual(['keyAgreement', 'newPinEnc', 'pinUvAuthParam', 'pinUvAuthProtocol', 'subCommand']);
    expect(set).toMatchObject({ pinUvAuthProtocol: 1, subCommand: 0x03 });
    expect(set!.newPinEnc!.length).toBe(64);
    expect(set!.pinUvAuthParam!.length).toBe(16);
    expect(toHex(set!.keyAgreement!.x)).toBe('44d78d7989b97e62ea993496c9ef6e8fd58b8b00715f9a89153ddd9c4657e47f');
    const shared = sharedV1();
    const plain = aesDec(shared, new Uint8Array(16), set!.newPinEnc!);
    expect(new TextDecoder().decode(plain.subarray(0, 4))).toBe('1234');
    expect(plain.subarray(4).every((b) => b === 0)).toBe(true);
    expect(set!.pinUvAuthParam).toEqual(hmac16(shared, set!.newPinEnc!));
  });

  it('changePIN sends newPinEnc 64 B and pinHashEnc 16 B (v1) authenticated over newPinEnc ‖ pinHashEnc', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'), ...get(W, 'CBOR_AUTHKEY'), ...get(W, 'CBOR_STATUS'), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'));
    const s = await (await client()).changePin(Pin.fromString('1234'), Pin.fromString('4321'));
    expect(s).toMatchObject({ state: 'ok', retriesLeft: 8 });
    const ch = clientPinRequests().find((r) => r.subCommand === 0x04)!;
    expect(ch.pinUvAuthProtocol).toBe(1);
    expect([ch.newPinEnc!.length, ch.pinHashEnc!.length, ch.pinUvAuthParam!.length]).toEqual([64, 16, 16]);
    const shared = sharedV1();
    expect(aesDec(shared, new Uint8Array(16), ch.pinHashEnc!)).toEqual(new Uint8Array(createHash('sha256').update('1234').digest().subarray(0, 16)));
    expect(ch.pinUvAuthParam).toEqual(hmac16(shared, new Uint8Array([...ch.newPinEnc!, ...ch.pinHashEnc!])));
  });

  it('changePIN on a protocol-2 key (2026 getInfo) sends 16-B IV + 64 B and 16-B IV + 16 B, with a 32-B param', async () => {
    mock.script.push(
      ...INIT(),
      ...infoWith(W26, (i) => (i.options = { ...i.options, clientPin: true })),
      ...get(W, 'CBOR_RETRIES'),
      ...get(W, 'CBOR_AUTHKEY'),
      ...get(W, 'CBOR_STATUS'),
      ...infoWith(W26, (i) => (i.options = { ...i.options, clientPin: true })),
      ...get(W, 'CBOR_RETRIES'),
    );
    await (await client()).changePin(Pin.fromString('1234'), Pin.fromString('4321'));
    const ch = clientPinRequests().find((r) => r.subCommand === 0x04)!;
    expect(ch.pinUvAuthProtocol).toBe(2);
    expect([ch.newPinEnc!.length, ch.pinHashEnc!.length, ch.pinUvAuthParam!.length]).toEqual([80, 32, 32]);
  });

  it('a new PIN that breaks the rules is refused before anything is sent (PIN_POLICY_VIOLATION)', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'));
    await expect((await client()).setPin(Pin.fromString('12'))).rejects.toMatchObject({ code: 'PIN_POLICY_VIOLATION', details: { rule: 'min-length' } });
    expect(requests().map((r) => r[0])).toEqual([0x04]);
  });

  it('0x37 from the key on setPIN → PIN_POLICY_VIOLATION with ctapStatus', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'), ...get(W, 'CBOR_AUTHKEY'), ...STATUS(0x37));
    await expect((await client()).setPin(Pin.fromString('123456'))).rejects.toMatchObject({ code: 'PIN_POLICY_VIOLATION', details: { ctapStatus: 0x37 } });
  });
});

describe('wire-data replay: wrong PINs (fido.md §5, §15 synthesised frames)', () => {
  const attempt = (...reply: Uint8Array[][]) => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'), ...get(W, 'CBOR_AUTHKEY'), ...reply.flat());
  };

  it('0x31 → PIN_INVALID with the re-read retries (7), no automatic retry', async () => {
    attempt(STATUS(0x31), RETRIES(7));
    await expect((await client()).verifyPin(Pin.fromString('0000'))).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 7, ctapStatus: 0x31 } });
    expect(clientPinRequests().map((r) => r.subCommand)).toEqual([0x01, 0x02, 0x05, 0x01]);
  });

  it('0x34 → PIN_SOFT_BLOCKED ("remove and re-insert")', async () => {
    attempt(STATUS(0x34), RETRIES(5, true));
    await expect((await client()).verifyPin(Pin.fromString('0000'))).rejects.toMatchObject({
      code: 'PIN_SOFT_BLOCKED',
      details: { retriesLeft: 5 },
      message: expect.stringContaining('re-insert'),
    });
  });

  it('0x32 → PIN_BLOCKED ("only a reset")', async () => {
    attempt(STATUS(0x32), RETRIES(0));
    await expect((await client()).verifyPin(Pin.fromString('0000'))).rejects.toMatchObject({ code: 'PIN_BLOCKED', message: expect.stringContaining('reset') });
  });

  it('a soft-blocked key is refused before any attempt is sent', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...RETRIES(5, true));
    await expect((await client()).verifyPin(Pin.fromString('1234'))).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED' });
    expect(clientPinRequests().map((r) => r.subCommand)).toEqual([0x01]);
  });

  it('with 1 attempt left: CONFIRMATION_REQUIRED without sending; with confirmLastAttempt the attempt goes out', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...RETRIES(1));
    await expect((await client()).verifyPin(Pin.fromString('1234'))).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', details: { retriesLeft: 1 } });
    expect(clientPinRequests().map((r) => r.subCommand)).toEqual([0x01]);
    mock.spliced = false;
    mock.writes.length = 0;
    mock.script.push(...INIT(), ...INFO_PIN(), ...RETRIES(1), ...get(W, 'CBOR_AUTHKEY'), ...get(W, 'CBOR_PINTOKEN'), ...RETRIES(8));
    expect(await (await client()).verifyPin(Pin.fromString('1234'), { confirmLastAttempt: true })).toMatchObject({ state: 'ok', retriesLeft: 8 });
  });

  it('forcePINChange: verify is refused with PIN_CHANGE_REQUIRED before sending (fido.md §14.2)', async () => {
    mock.script.push(...INIT(), ...infoWith(W, (i) => ((i.options = { ...i.options, clientPin: true }), (i.forcePINChange = true))), ...RETRIES(8));
    await expect((await client()).verifyPin(Pin.fromString('1234'))).rejects.toMatchObject({ code: 'PIN_CHANGE_REQUIRED' });
    expect(clientPinRequests().map((r) => r.subCommand)).toEqual([0x01]);
  });

  it('a key without a PIN refuses verify with PIN_NOT_SET before sending', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'));
    await expect((await client()).verifyPin(Pin.fromString('1234'))).rejects.toMatchObject({ code: 'PIN_NOT_SET' });
  });
});

describe('wire-data replay: getAssertion, makeCredential, reset (fido.md §15 sequences)', () => {
  it('getAssertion with PIN: legacy getPinToken (0x05), pinUvAuthParam = LEFT(HMAC(token, cdh), 16); 64-B credential, counter 9', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'), ...get(W, 'CBOR_AUTHKEY'), ...get(W, 'CBOR_PINTOKEN'), ...get(W, 'CBOR_ASSERT'));
    const cdh = new Uint8Array(32).fill(7);
    const [a] = await (await client()).getAssertion({ rpId: 'localhost', clientDataHash: cdh, pin: Pin.fromString('1234') });
    expect(a!.credentialId.length).toBe(64);
    expect((a!.authData[33]! << 24) | (a!.authData[34]! << 16) | (a!.authData[35]! << 8) | a!.authData[36]!).toBe(9);
    const tok = clientPinRequests().find((r) => r.subCommand === 0x05)!;
    expect(tok.permissions).toBeUndefined();
    expect(tok.pinHashEnc!.length).toBe(16);
    const ga = GetAssertion.decodeRequest(requests().find((r) => r[0] === 0x02)!.subarray(1));
    const token = aesDec(sharedV1(), new Uint8Array(16), ClientPin.decodeResponse(assemble(W.get('WIREDATA_CTAP_CBOR_PINTOKEN')!).subarray(1)).pinUvAuthToken!);
    expect(ga).toMatchObject({ rpId: 'localhost', pinUvAuthProtocol: 1 });
    expect(ga.pinUvAuthParam).toEqual(hmac16(token, cdh));
  });

  it('makeCredential with PIN reports touch-needed once over 3 keepalives and returns the packed attestation', async () => {
    mock.script.push(...INIT(), ...INFO_PIN(), ...get(W, 'CBOR_RETRIES'), ...get(W, 'CBOR_AUTHKEY'), ...get(W, 'CBOR_PINTOKEN'), ...get(W, 'KEEPALIVE'), ...get(W, 'KEEPALIVE'), ...get(W, 'KEEPALIVE'), ...get(W, 'CBOR_CRED'));
    const progress: string[] = [];
    const r = await (await client()).makeCredential(
      { rpId: 'localhost', user: { id: Uint8Array.of(1, 2, 3) }, clientDataHash: new Uint8Array(32), pin: Pin.fromString('1234') },
      { onProgress: (p) => progress.push(p) },
    );
    expect(progress).toEqual(['touch-needed']);
    expect(r.fmt).toBe('packed');
    expect(r.credentialId.length).toBeGreaterThan(0);
    expect(r.publicKey.get(3)).toBe(-7);
  });

  it('regress makeCredential (rp localhost) without PIN replays strictly', async () => {
    mock.script.push(...INIT(), ...get(W, 'CBOR_INFO'), ...normaliseCid(R.get('REGRESS_WIREDATA_MAKECRED')!));
    const r = await (await client()).makeCredential({ rpId: 'localhost', user: { id: Uint8Array.of(1) }, clientDataHash: new Uint8Array(32) });
    expect(r.fmt).toBe('packed');
  });

  it('reset: 3 keepalives give one touch-needed, STATUS ok, then the state is read back as no-pin', async () => {
    mock.script.push(...INIT(), ...get(W, 'KEEPALIVE'), ...get(W, 'KEEPALIVE'), ...get(W, 'KEEPALIVE'), ...get(W, 'CBOR_STATUS'), ...get(W, 'CBOR_INFO'));
    const progress: string[] = [];
    const s = await (await client()).reset({ onProgress: (p) => progress.push(p) });
    expect(progress).toEqual(['touch-needed']);
    expect(s.state).toBe('no-pin');
    expect(requests().map((r) => r[0])).toEqual([0x07, 0x04]);
  });

  it.each([
    [0x30, 'RESET_NOT_ALLOWED', 'within 5 seconds'],
    [0x34, 'RESET_NOT_ALLOWED', 're-insert'],
    [0x27, 'OPERATION_DENIED', 'denied'],
    [0x3a, 'TIMEOUT', 'no touch'],
    [0x2f, 'TIMEOUT', 'no touch'],
  ])('reset answered 0x%s → %s (fido.md §10)', async (status, code, words) => {
    mock.script.push(...INIT(), ...STATUS(status));
    await expect((await client()).reset()).rejects.toMatchObject({ code, message: expect.stringContaining(words), details: { ctapStatus: status } });
  });
});

describe('wire-data replay: transport faults', () => {
  it('CHANNEL_BUSY then success: the request is resent and answered', async () => {
    mock.script.push(...INIT(), synth('00220002bf000106'), ...get(W, 'CBOR_INFO'));
    const c = await client();
    expect((await c.getInfo()).maxMsgSize).toBe(1200);
    expect(requests().map((r) => r[0])).toEqual([0x04, 0x04]);
  });

  it('a key that keeps sending keepalives is bounded by the deadline (regress timeout_rx; fake timers)', async () => {
    vi.useFakeTimers();
    try {
      mock.script.push(...INIT());
      const c = await client();
      mock.stream = synth('00220002bb000101');
      const p = c.getInfo({ deadline: Deadline.in(3000) });
      const check = expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
      await vi.advanceTimersByTimeAsync(3500);
      await check;
      mock.stream = null;
      // the key was told to stop: CTAPHID_CANCEL on the channel
      const last = mock.writes.at(-1)!;
      expect([...last.subarray(1, 6)]).toEqual([0x00, 0x22, 0x00, 0x02, 0x91]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('regress timeout_ok: 5 keepalives 1 s apart fit in a 30 s budget', async () => {
    vi.useFakeTimers();
    try {
      mock.script.push(...INIT());
      const c = await client();
      const ka = get(W, 'KEEPALIVE')[0]!;
      for (let i = 0; i < 5; i++) mock.script.push({ delayMs: 1000, report: ka });
      mock.script.push({ delayMs: 1000, report: get(W, 'CBOR_INFO')[0]! }, ...get(W, 'CBOR_INFO').slice(1));
      const p = c.getInfo({ deadline: Deadline.in(30_000) });
      await vi.advanceTimersByTimeAsync(7000);
      expect((await p).maxMsgSize).toBe(1200);
    } finally {
      vi.useRealTimers();
    }
  });
});

