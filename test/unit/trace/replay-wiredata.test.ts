/**
 * Every converted libfido2 capture replayed through keytap's real host stack
 * (CtapHidTransport + FidoClient) over the strict replayer, with the all-consumed check.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraceReplayer } from '../../../src/sim/trace/trace-replayer.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { CtapHidCmd } from '../../../src/protocol/ctaphid/constants.ts';
import { decodeCbor } from '../../../src/protocol/cbor.ts';
import { toHex } from '../../../src/util/bytes.ts';
import { TraceMismatchError } from '../../../src/protocol/trace/trace-errors.ts';

const DIR = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'traces', 'hid');
const Y = 'yubikey-5-fw5.2.1';

async function replay(rel: string) {
  const replayer = TraceReplayer.fromText(readFileSync(join(DIR, rel), 'utf8'), { source: rel });
  const transport = await CtapHidTransport.open(replayer.open(), { kind: 'virtual', descriptor: `trace:${rel}` });
  return { replayer, transport, client: new FidoClient(transport) };
}

const cdh = new Uint8Array(32).fill(7);

describe('libfido2 captures through CtapHidTransport + FidoClient (fido.md §15)', () => {
  it('get-info: YubiKey 5.2.1 getInfo, INIT nonce spliced, caps 0x05', async () => {
    const { replayer, transport, client } = await replay(`${Y}/get-info.trace`);
    expect(transport.cid).toBe(0x00220002);
    expect(transport.capabilities).toBe(0x05);
    const info = await client.getInfo();
    expect(info.versions).toEqual(['U2F_V2', 'FIDO_2_0', 'FIDO_2_1_PRE']);
    expect(info.maxMsgSize).toBe(1200);
    expect(info.options?.clientPin).toBe(false);
    replayer.assertConsumed();
  });

  it('get-info-foreign-cid: a reply on another channel is skipped (fido.md §2)', async () => {
    const { replayer, transport, client } = await replay(`${Y}/get-info-foreign-cid.trace`);
    await client.getInfo();
    expect(transport.ignoredFrames).toBe(1);
    replayer.assertConsumed();
  });

  it('synthetic CTAP 2.3 getInfo (26 keys) decodes', async () => {
    const { replayer, client } = await replay('libfido2-synthetic-ctap2.3/get-info.trace');
    const info = await client.getInfo();
    expect(info.versions).toContain('FIDO_2_3');
    expect(info.pinUvAuthProtocols).toEqual([2, 1]);
    replayer.assertConsumed();
  });

  it('pin-status-no-pin: clientPin false, retries not polled', async () => {
    const { replayer, client } = await replay(`${Y}/pin-status-no-pin.trace`);
    expect(await client.pinStatus()).toMatchObject({ state: 'no-pin', retriesLeft: null });
    replayer.assertConsumed();
  });

  it('pin-retries: {3: 8} is state ok with 8 retries (CTAP 2.1 §6.5.2.1)', async () => {
    const { replayer, client } = await replay(`${Y}/pin-retries.trace`);
    expect(await client.pinStatus()).toMatchObject({ state: 'ok', retriesLeft: 8, maxRetries: 8, powerCycleRequired: false });
    replayer.assertConsumed();
  });

  it('set-pin: key agreement on the captured P-256 point, status OK, verified state', async () => {
    const { replayer, client } = await replay(`${Y}/set-pin.trace`);
    expect(await client.setPin(Pin.fromString('1234'))).toMatchObject({ state: 'ok', retriesLeft: 8 });
    replayer.assertConsumed();
  });

  it('change-pin: verified state after the change', async () => {
    const { replayer, client } = await replay(`${Y}/change-pin.trace`);
    expect(await client.changePin(Pin.fromString('1234'), Pin.fromString('5678'))).toMatchObject({ state: 'ok', retriesLeft: 8 });
    replayer.assertConsumed();
  });

  it('verify-pin: a protocol-1 token (16 bytes) is obtained and discarded', async () => {
    const { replayer, client } = await replay(`${Y}/verify-pin.trace`);
    expect(await client.verifyPin(Pin.fromString('1234'))).toMatchObject({ state: 'ok', retriesLeft: 8 });
    replayer.assertConsumed();
  });

  it('reset: three UPNEEDED keepalives reported once as touch-needed', async () => {
    const { replayer, client } = await replay(`${Y}/reset.trace`);
    const progress: string[] = [];
    expect(await client.reset({ onProgress: (p) => progress.push(p) })).toMatchObject({ state: 'no-pin' });
    expect(progress.filter((p) => p === 'touch-needed')).toHaveLength(1);
    replayer.assertConsumed();
  });

  it.each(['make-credential', 'make-credential-localhost', 'make-credential-enterprise-attestation'])('%s: packed attestation with a credential', async (name) => {
    const { replayer, client } = await replay(`${Y}/${name}.trace`);
    const r = await client.makeCredential({ rpId: 'localhost', user: { id: new Uint8Array([1]) }, clientDataHash: cdh });
    expect(r.fmt).toBe('packed');
    expect(r.credentialId.length).toBeGreaterThan(0);
    replayer.assertConsumed();
  });

  it('make-credential-pin: token and keepalives, then the credential', async () => {
    const { replayer, client } = await replay(`${Y}/make-credential-pin.trace`);
    const r = await client.makeCredential({ rpId: 'localhost', user: { id: new Uint8Array([1]) }, clientDataHash: cdh, pin: Pin.fromString('1234') });
    expect(r.fmt).toBe('packed');
    replayer.assertConsumed();
  });

  it.each(['get-assertion', 'get-assertion-pin'])('%s: one assertion with a 64-byte credential id and counter 9', async (name) => {
    const { replayer, client } = await replay(`${Y}/${name}.trace`);
    const r = await client.getAssertion({ rpId: 'localhost', clientDataHash: cdh, ...(name.endsWith('pin') ? { pin: Pin.fromString('1234') } : {}) });
    expect(r).toHaveLength(1);
    expect(r[0]!.credentialId.length).toBe(64);
    expect(toHex(r[0]!.authData.subarray(33, 37))).toBe('00000009');
    replayer.assertConsumed();
  });

  it.each([
    ['credman-metadata', 1, { 1: 0, 2: 25 }],
    ['credman-rps', 3, null],
    ['credman-credentials', 5, null],
    ['bio-info', 1, null],
    ['bio-enroll', 3, null],
    ['bio-enum', 1, null],
    ['large-blob-get', 1, null],
  ] as const)('%s: %i CBOR exchange(s) at the transport level', async (name, n, first) => {
    const { replayer, transport } = await replay(`${Y}/${name}.trace`);
    for (let i = 0; i < n; i++) {
      const r = await transport.exchange(CtapHidCmd.CBOR, new Uint8Array([0x0a]));
      expect(r[0]).toBe(0);
      const body = decodeCbor(r.subarray(1)) as Map<number, unknown>;
      if (i === 0 && first) expect(Object.fromEntries(body)).toEqual(first);
    }
    replayer.assertConsumed();
  });

  it.each([
    ['u2f-register', 5, 0x05],
    ['u2f-authenticate', 4, 0x01],
  ] as const)('%s: %i x SW 6985 while polling, then the answer ending 9000 (CTAPHID_MSG)', async (name, polls, firstByte) => {
    const { replayer, transport } = await replay(`${Y}/${name}.trace`);
    let r: Uint8Array;
    let n = 0;
    for (;;) {
      r = await transport.exchange(CtapHidCmd.MSG, new Uint8Array([0x00, 0x01, 0x03, 0x00]));
      if (toHex(r) !== '6985') break;
      n++;
    }
    expect(n).toBe(polls);
    expect(r[0]).toBe(firstByte);
    expect(toHex(r.subarray(r.length - 2))).toBe('9000');
    replayer.assertConsumed();
  });

  it('a replay that stops early fails the all-consumed check with the line of the first record left', async () => {
    const { replayer } = await replay(`${Y}/get-info.trace`);
    expect(() => replayer.assertConsumed()).toThrow(/get-info\.trace:\d+: replay ended with 5 trace record\(s\) unconsumed/);
  });

  it('a deliberately edited capture fails at the edited line (TRACE_MISMATCH names line, expected, actual)', async () => {
    const rel = `${Y}/get-info.trace`;
    const lines = readFileSync(join(DIR, rel), 'utf8').split('\n');
    // Replace the getInfo wildcard with a literal request for authenticatorReset (0x07): the client sends 0x04.
    const idx = lines.findIndex((l, i) => l === '=> *' && i > lines.findIndex((x) => x.startsWith('<= ffffffff')));
    lines[idx] = '=> 00220002 90 0001 07 ...';
    const replayer = TraceReplayer.fromText(lines.join('\n'), { source: 'edited.trace' });
    const client = new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'virtual' }));
    const err = await client.getInfo().catch((e) => e);
    expect(err).toBeInstanceOf(TraceMismatchError);
    expect(err.line).toBe(idx + 1);
    expect(err.message).toContain(`edited.trace:${idx + 1}:`);
    expect(err.details).toMatchObject({ expected: '=> 00220002 90 0001 07 ...', actual: '=> 00220002 90 0001 04 ...' });
  });
});
