/**
 * Record/replay at the CtapTransport seam (`level: message`): CTAP over NFC through H5's
 * CtapNfcTransport and virtual FIDO card, recorded masked and replayed through FidoClient.
 */
import { describe, expect, it } from 'vitest';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, TouchController } from '../../../src/sim/env.ts';
import { FidoNfcCard } from '../../../src/sim/vpcd/fido-nfc-card.ts';
import { CtapNfcTransport } from '../../../src/fido/nfc-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { TraceRecorder } from '../../../src/sim/trace/trace-recorder.ts';
import { recordCtapTransport, TraceTransportReplayer } from '../../../src/sim/trace/trace-transport.ts';
import { parseTrace } from '../../../src/protocol/trace/parse-trace.ts';
import { patternBytes } from '../../../src/protocol/trace/trace-model.ts';
import { TraceMismatchError } from '../../../src/protocol/trace/trace-errors.ts';
import { toHex } from '../../../src/util/bytes.ts';
import type { ApduTransport } from '../../../src/protocol/iso7816/apdu-transport.ts';

async function recordNfc(op: (c: FidoClient) => Promise<unknown>, touchDelayMs = 0) {
  const auth = new VirtualAuthenticator({ env: createSimEnv({ touch: new TouchController('auto', touchDelayMs) }), initialPin: Pin.fromString('4826') });
  const card = new FidoNfcCard(auth);
  card.powerOn();
  const apdu: ApduTransport = { descriptor: 'virtual FIDO card', transmit: async (a) => card.transmit(a), close: async () => undefined };
  const rec = new TraceRecorder({ transport: 'nfc', device: 'keytap virtual authenticator as an NFC card', provenance: 'unit test', level: 'message' });
  const client = new FidoClient(recordCtapTransport(await CtapNfcTransport.open(apdu), rec));
  const result = await op(client).then((v) => ({ ok: v }), (e) => ({ error: e.code }));
  return { result, text: rec.toText(), auth };
}

describe('message-level traces (level: message) over CTAP-NFC', () => {
  it('a PIN change over NFC is recorded masked and replays through FidoClient to the same result', async () => {
    const { result, text, auth } = await recordNfc((c) => c.changePin(Pin.fromString('4826'), Pin.fromString('739105')));
    expect(result).toMatchObject({ ok: { state: 'ok', retriesLeft: 8 } });
    expect(auth.pinState.pinSet).toBe(true);
    const t = parseTrace(text);
    expect(t.header).toMatchObject({ transport: 'nfc', level: 'message' });
    expect(text).toContain('=> 10 04');
    const bytes = t.entries.flatMap((e) => (e.kind === 'send' && e.data ? [e.data] : e.kind === 'recv' ? [e.data] : [])).map((p) => toHex(patternBytes(p))).join('|');
    for (const pin of ['4826', '739105']) expect(bytes).not.toContain(toHex(new TextEncoder().encode(pin)));
    expect(text).toMatch(/<masked 32>/);

    const replayer = TraceTransportReplayer.fromText(text, { source: 'nfc-change-pin.trace' });
    expect(replayer.kind).toBe('nfc');
    const replayed = await new FidoClient(replayer).changePin(Pin.fromString('1111'), Pin.fromString('2222'));
    expect({ ok: replayed }).toEqual(result);
    replayer.assertConsumed();
  });

  it('keepalive status changes are recorded as events and replayed to onProgress', async () => {
    const cdh = new Uint8Array(32).fill(1);
    const { text } = await recordNfc((c) => c.makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh, pin: Pin.fromString('4826') }), 400);
    const replayer = TraceTransportReplayer.fromText(text);
    const progress: string[] = [];
    const r = await new FidoClient(replayer).makeCredential({ rpId: 'example.com', user: { id: Uint8Array.of(1) }, clientDataHash: cdh, pin: Pin.fromString('0000') }, { onProgress: (p) => progress.push(p) });
    expect(r.fmt).toBe('packed');
    expect(text).toContain('@ keepalive status=up-needed');
    expect(progress).toContain('touch-needed');
    replayer.assertConsumed();
  });

  it('an edited message trace fails at the edited line', async () => {
    const { text } = await recordNfc((c) => c.pinStatus());
    const lines = text.split('\n');
    const idx = lines.findIndex((l) => l.startsWith('=> 10 04'));
    lines[idx] = '=> 10 07';
    const replayer = TraceTransportReplayer.fromText(lines.join('\n'), { source: 'edited.trace' });
    const err = await new FidoClient(replayer).pinStatus().catch((e) => e);
    expect(err).toBeInstanceOf(TraceMismatchError);
    expect(err.line).toBe(idx + 1);
    expect(err.details).toMatchObject({ expected: '=> 10 07', actual: '=> 10 04' });
  });
});
