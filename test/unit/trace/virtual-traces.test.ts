/**
 * The PIN-scenario recordings of the virtual authenticator: reproducible, free of secrets,
 * and replayable through the real client to the recorded result.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordVirtualTraces, SCENARIO_PINS, VIRTUAL_SCENARIOS } from '../../../scripts/record-virtual-traces.ts';
import { parseTrace } from '../../../src/protocol/trace/parse-trace.ts';
import { patternBytes } from '../../../src/protocol/trace/trace-model.ts';
import { TraceReplayer } from '../../../src/sim/trace/trace-replayer.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../../src/fido/fido-client.ts';
import { Pin } from '../../../src/protocol/secret.ts';
import { TraceMismatchError } from '../../../src/protocol/trace/trace-errors.ts';
import { decodeCbor } from '../../../src/protocol/cbor.ts';
import { toHex } from '../../../src/util/bytes.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'traces');
const read = (rel: string) => readFileSync(join(FIXTURES, rel), 'utf8');
const utf8hex = (s: string) => toHex(new TextEncoder().encode(s));

let recorded: Awaited<ReturnType<typeof recordVirtualTraces>>;
const tokenCiphertexts: string[] = [];

beforeAll(async () => {
  recorded = await recordVirtualTraces({
    onResponse: (req, res) => {
      // clientPIN getPinToken (0x05) / getPinUvAuthTokenUsingPinWithPermissions (0x09): the token as sent on the wire
      if (req[0] === 0x06 && res[0] === 0 && res.length > 1) {
        const m = decodeCbor(res.subarray(1)) as Map<number, unknown>;
        const t = m.get(2);
        if (t instanceof Uint8Array) tokenCiphertexts.push(toHex(t));
      }
    },
  });
});

describe('virtual authenticator PIN traces (fixtures/traces/hid/virtual-yubikey-5-nfc-5.7)', () => {
  it('the committed recordings are reproducible (re-run scripts/record-virtual-traces.ts after a change)', () => {
    expect([...recorded.traces.keys()]).toHaveLength(VIRTUAL_SCENARIOS.length);
    for (const [rel, text] of recorded.traces) expect(read(rel), `${rel} is stale`).toBe(text);
  });

  it('the scenarios end as CTAP 2.1 says: 8 retries, 7 after a wrong PIN, soft lock at the 3rd, blocked at 0, no PIN after reset (fido.md §5)', () => {
    const o = Object.fromEntries(recorded.outcomes);
    expect(o['set-pin']).toMatch(/^ok .*"state":"ok","retriesLeft":8/);
    expect(o['change-pin']).toMatch(/^ok .*"state":"ok","retriesLeft":8/);
    expect(o['wrong-pin']).toBe('error PIN_INVALID {"retriesLeft":7}');
    expect(o['soft-block']).toMatch(/PIN_SOFT_BLOCKED.*retriesLeft\\":5.*"state":"soft-blocked","retriesLeft":5,"powerCycleRequired":true/);
    expect(o['blocked']).toMatch(/PIN_BLOCKED.*"state":"blocked","retriesLeft":0/);
    expect(o['reset']).toMatch(/^ok .*"state":"no-pin"/);
  });

  it('no recording holds a PIN, a padded PIN or a token (DESIGN.md §6)', () => {
    expect(tokenCiphertexts.length).toBeGreaterThan(0);
    const secrets = [
      ...Object.values(SCENARIO_PINS).map(utf8hex),
      ...Object.values(SCENARIO_PINS).map((p) => utf8hex(p) + '00'.repeat(8)),
      ...tokenCiphertexts.map((t) => t.slice(0, 16)),
    ];
    for (const [rel, text] of recorded.traces) {
      const units = parseTrace(text).entries.flatMap((e) => (e.kind === 'send' && e.data ? [e.data] : e.kind === 'recv' ? [e.data] : [])).map((p) => toHex(patternBytes(p)));
      const all = units.join('|');
      for (const s of secrets) expect(all.includes(s), `${rel} contains a secret`).toBe(false);
      if (!rel.endsWith('reset.trace')) expect(text).toContain('<masked');
    }
  });

  it('the recorded PIN change replays through FidoClient to the same result, fully consumed', async () => {
    const rel = 'hid/virtual-yubikey-5-nfc-5.7/change-pin.trace';
    const text = read(rel);
    const replayer = TraceReplayer.fromText(text, { source: rel });
    const client = new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'virtual' }));
    // different PINs and fresh randomness: only masked bytes differ, and they match anything
    const status = await client.changePin(Pin.fromString('1111'), Pin.fromString('2222'));
    expect(`ok ${JSON.stringify(status)}`).toBe(/# result: (.*)/.exec(text)![1]);
    replayer.assertConsumed();
  });

  it.each(VIRTUAL_SCENARIOS.map((s) => s.file).filter((f) => f !== 'change-pin'))('%s replays through FidoClient to the recorded result', async (file) => {
    const rel = `hid/virtual-yubikey-5-nfc-5.7/${file}.trace`;
    const text = read(rel);
    const replayer = TraceReplayer.fromText(text, { source: rel });
    const client = new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'virtual' }));
    const p = (s: string) => Pin.fromString(s);
    const outcome = async (x: Promise<unknown>) => x.then((v) => `ok ${JSON.stringify(v)}`, (e) => `error ${e.code} ${JSON.stringify({ retriesLeft: e.details?.retriesLeft })}`);
    const run: Record<string, () => Promise<string>> = {
      'set-pin': () => outcome(client.setPin(p('4826'))),
      'wrong-pin': () => outcome(client.verifyPin(p('9999'))),
      'verify-pin': () => outcome(client.verifyPin(p('4826'))),
      'soft-block': async () => `ok ${JSON.stringify([await outcome(client.verifyPin(p('9999'))), await client.pinStatus()])}`,
      blocked: async () => `ok ${JSON.stringify([await outcome(client.verifyPin(p('9999'), { confirmLastAttempt: true })), await client.pinStatus()])}`,
      reset: () => outcome(client.reset()),
    };
    expect(await run[file]!()).toBe(/# result: (.*)/.exec(text)![1]);
    replayer.assertConsumed();
  });

  it('a deliberately edited PIN-change trace fails at the edited line with expected and actual', async () => {
    const rel = 'hid/virtual-yubikey-5-nfc-5.7/change-pin.trace';
    const lines = read(rel).split('\n');
    // the first getPINRetries request (subcommand 0x01) now claims getKeyAgreement (0x02)
    const idx = lines.findIndex((l) => l.endsWith('06a201020201 ...'));
    lines[idx] = lines[idx]!.replace('06a201020201', '06a201020202');
    const replayer = TraceReplayer.fromText(lines.join('\n'), { source: 'edited-change-pin.trace' });
    const client = new FidoClient(await CtapHidTransport.open(replayer.open(), { kind: 'virtual' }));
    const err = await client.changePin(Pin.fromString('1111'), Pin.fromString('2222')).catch((e) => e);
    expect(err).toBeInstanceOf(TraceMismatchError);
    expect(err.code).toBe('TRACE_MISMATCH');
    expect(err.line).toBe(idx + 1);
    expect(err.message).toMatch(new RegExp(`^edited-change-pin\\.trace:${idx + 1}: the host's report differs from the trace at byte 12`));
    expect(err.details.expected).toContain('06a201020202');
    expect(err.details.actual).toContain('06a201020201');
  });
});
