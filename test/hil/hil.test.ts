/**
 * `npm run test:hil`: the HIL contract suite. Against the simulator by default (a real
 * `keytap simulate --udp` child process); against a real key when KEYTAP_HIL_DEVICE names one
 * (see hil-target.ts and docs/hil.md). It runs:
 *  1. the shared FIDO client contract (test/contract/fido-contract.ts: spec numbers 8 / 3 / 0),
 *     destructive only on the simulator or with KEYTAP_HIL_DESTRUCTIVE=1;
 *  2. record/replay on the target: getInfo, PIN status and (with a known PIN) a PIN
 *     verification are recorded through TraceRecorder, replayed through the same client code
 *     to the same result, fully consumed, with no PIN byte in the trace. With
 *     KEYTAP_HIL_RECORD_DIR the traces are kept as new fixtures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fidoContract } from '../contract/fido-contract.ts';
import { destructive, hil, onHardware, openHilTarget, type HilTarget } from './hil-target.ts';
import { TraceRecorder } from '../../src/sim/trace/trace-recorder.ts';
import { TraceReplayer } from '../../src/sim/trace/trace-replayer.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { recordCtapTransport, TraceTransportReplayer } from '../../src/sim/trace/trace-transport.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';
import { Pin } from '../../src/protocol/secret.ts';
import { parseTrace } from '../../src/protocol/trace/parse-trace.ts';
import { patternBytes } from '../../src/protocol/trace/trace-model.ts';
import { toHex } from '../../src/util/bytes.ts';

fidoContract(onHardware ? `HIL: real key ${hil.device}` : 'HIL: simulator (keytap simulate --udp)', () => openHilTarget(), { destructive });

/** On the simulator the known PIN is set at start (KEYTAP_SIM_PIN); on hardware it is KEYTAP_HIL_PIN. */
const SIM_PIN = '4826';
const knownPin = onHardware ? hil.pin : SIM_PIN;

describe('HIL: record on the target, replay through the client (fixtures/README.md)', () => {
  let t: HilTarget;
  beforeAll(async () => {
    t = await openHilTarget({ simulatorEnv: { KEYTAP_SIM_PIN: SIM_PIN } });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function recordAndReplay<T>(scenario: string, op: (c: FidoClient) => Promise<T>): Promise<{ live: T; replayed: T; text: string }> {
    // HID/UDP keys are recorded report by report; a key on a PC/SC reader message by message.
    const message = t.transport === 'pcsc';
    const rec = new TraceRecorder({
      transport: t.transport,
      device: t.description,
      provenance: `recorded by test/hil on ${new Date().toISOString().slice(0, 10)}`,
      ...(message ? { level: 'message' as const } : {}),
      fields: [['scenario', scenario]],
    });
    const live = await (async () => {
      const c = message
        ? new FidoClient(recordCtapTransport(await t.openTransport!(), rec))
        : new FidoClient(await CtapHidTransport.open(rec.wrap(await t.connect!()), { kind: t.transport === 'udp' ? 'udp' : 'usb' }));
      try {
        return await op(c);
      } finally {
        await c.transport.close();
      }
    })();
    const text = rec.toText();
    if (hil.recordDir) {
      mkdirSync(hil.recordDir, { recursive: true });
      writeFileSync(join(hil.recordDir, `${scenario}.trace`), text);
    }
    let replayed: T;
    if (message) {
      const replayer = TraceTransportReplayer.fromText(text, { source: `${scenario}.trace` });
      replayed = await op(new FidoClient(replayer));
      replayer.assertConsumed();
    } else {
      const replayer = TraceReplayer.fromText(text, { source: `${scenario}.trace` });
      replayed = await op(new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'virtual' })));
      replayer.assertConsumed();
    }
    return { live, replayed, text };
  }

  it('getInfo recorded on the target replays to the same info', async () => {
    const r = await recordAndReplay('get-info', (c) => c.getInfo());
    expect(r.replayed).toEqual(r.live);
  });

  it('PIN status recorded on the target replays to the same state', async () => {
    const r = await recordAndReplay('pin-status', (c) => c.pinStatus());
    expect(r.replayed).toEqual(r.live);
  });

  it.runIf(knownPin !== undefined)('a PIN verification is recorded masked (no PIN byte in the trace) and replays to the same state', async () => {
    const r = await recordAndReplay('verify-pin', (c) => c.verifyPin(Pin.fromString(knownPin!)));
    expect(r.live).toMatchObject({ state: 'ok' });
    expect(r.replayed).toEqual(r.live);
    const units = parseTrace(r.text).entries.flatMap((e) => (e.kind === 'send' && e.data ? [e.data] : e.kind === 'recv' ? [e.data] : [])).map((p) => toHex(patternBytes(p)));
    expect(units.join('|')).not.toContain(toHex(new TextEncoder().encode(knownPin!)));
    expect(r.text).toContain('<masked');
  });
});
