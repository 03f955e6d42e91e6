/**
 * Inbound messages that are not what they should be (JSON-RPC 2.0 §4-§6, DESIGN.md §5): each
 * gets the typed error the spec names, nothing reaches the broker, and the server stays up.
 * Then property tests (fast-check) over arbitrary inbound text and request-shaped objects: no
 * crash, no unhandled rejection, every answer a well-formed JSON-RPC response, and anything that
 * is not a valid request gets an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FakeKey, FakeProvider } from './fake-authenticator.ts';
import { rawSocket, startTestAgent, type RawConn, type TestAgent } from './helpers.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';

let t: TestAgent;
let c: RawConn;
let key: FakeKey;
let id: string;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  t = await startTestAgent({ config: { limits: { authFailuresPerConnection: 100, pinAttemptsPerConnection: 1000, pinAttemptsPerToken: 1000, maxPendingRequests: 64 } } });
  const p = new FakeProvider();
  key = new FakeKey('M');
  p.plug(key);
  await t.agent.addProvider(p);
  id = deviceIdFor('authenticator', 'fake', 'M');
  c = await rawSocket(t.url);
  expect((await c.call('initialize', {}, 'init')).result.role).toBe('client');
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  c.ws.close();
  await t.close();
});

/** A valid JSON-RPC notification (the only input that gets no answer). */
function isNotification(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    o.jsonrpc === '2.0' &&
    typeof o.method === 'string' &&
    o.method.length >= 1 &&
    o.method.length <= 128 &&
    !('id' in o) &&
    (o.params === undefined || (typeof o.params === 'object' && o.params !== null)) &&
    Object.keys(o).every((k) => ['jsonrpc', 'method', 'params'].includes(k))
  );
}

/** How many answers JSON-RPC 2.0 §6 requires for `text`. */
function expectedReplies(text: string | Buffer): number {
  if (typeof text !== 'string') return 1;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 1;
  }
  if (Array.isArray(v)) return v.length >= 1 && v.length <= 16 && v.every(isNotification) ? 0 : 1;
  return isNotification(v) ? 0 : 1;
}

/**
 * Sends `text`, waits for the answers JSON-RPC requires (notifications from the agent aside),
 * then a sentinel request; fails if anything else arrives before the sentinel's answer.
 */
let sentinel = 0;
async function exchange(text: string | Buffer): Promise<any[]> {
  c.ws.send(text);
  const got: any[] = [];
  const want = expectedReplies(text);
  while (got.length < want) {
    const m = await c.next();
    if (m && typeof m === 'object' && !Array.isArray(m) && 'method' in m) continue; // an event
    got.push(m);
  }
  const sid = `sentinel-${sentinel++}`;
  c.send({ jsonrpc: '2.0', id: sid, method: 'devices.list' });
  for (;;) {
    const m = await c.next();
    if (m && typeof m === 'object' && !Array.isArray(m) && 'method' in m) continue;
    if (m && typeof m === 'object' && !Array.isArray(m) && m.id === sid) {
      expect(m.result).toBeDefined();
      return got;
    }
    throw new Error(`unexpected extra message: ${JSON.stringify(m)}`);
  }
}

describe('malformed and wrong messages get typed errors (JSON-RPC 2.0 §5.1)', () => {
  it('invalid JSON → -32700 with id null', async () => {
    expect(await exchange('{"jsonrpc":"2.0",')).toEqual([{ jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32700, data: { code: 'PARSE_ERROR' } }) }]);
  });

  it('not a request object → -32600 (missing jsonrpc, wrong version, method not a string, scalar)', async () => {
    for (const m of [{ id: 1, method: 'devices.list' }, { jsonrpc: '1.0', id: 2, method: 'devices.list' }, { jsonrpc: '2.0', id: 3, method: 7 }, 42, 'text', null]) {
      const [r] = await exchange(JSON.stringify(m));
      expect(r.error.code).toBe(-32600);
      expect(r.error.data.code).toBe('INVALID_REQUEST');
    }
  });

  it('unknown method → -32601', async () => {
    expect((await c.call('fido.selfDestruct', {})).error).toMatchObject({ code: -32601, data: { code: 'METHOD_NOT_FOUND' } });
  });

  it('wrong param types, missing and unknown members → -32602 with the path, never reaching the key', async () => {
    const before = key.ops.length;
    const r1 = await c.call('fido.pin.status', { device: 5 });
    expect(r1.error).toMatchObject({ code: -32602, data: { code: 'INVALID_PARAMS', errors: [{ path: '/device' }] } });
    expect((await c.call('fido.pin.change', { device: id, newPin: '1234' })).error.code).toBe(-32602);
    expect((await c.call('fido.pin.verify', { device: id, pin: 1234 })).error.code).toBe(-32602);
    expect((await c.call('fido.wink', { device: id, extra: true })).error.data.errors[0].message).toMatch(/unknown member "extra"/);
    expect((await c.call('fido.wink', [id])).error.code).toBe(-32602);
    expect((await c.call('events.subscribe', { topics: ['nope'] })).error.code).toBe(-32602);
    expect(key.ops.length).toBe(before);
  });

  it('a batch is answered as an array; an empty batch is -32600', async () => {
    const [batch] = await exchange(JSON.stringify([{ jsonrpc: '2.0', id: 'b1', method: 'devices.list' }, { jsonrpc: '2.0', id: 'b2', method: 'nope' }, { jsonrpc: '2.0', method: 'events.subscribe' }]));
    expect(batch.map((r: { id: string }) => r.id).sort()).toEqual(['b1', 'b2']);
    expect(await exchange('[]')).toEqual([{ jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32600 }) }]);
  });

  it('a binary frame is -32600; a notification gets no answer', async () => {
    expect((await exchange(Buffer.from([1, 2, 3])))[0].error.code).toBe(-32600);
    expect(await exchange(JSON.stringify({ jsonrpc: '2.0', method: 'devices.list' }))).toEqual([]);
  });

  it('a request id already pending on the connection is refused', async () => {
    key.hold = true;
    c.send({ jsonrpc: '2.0', id: 'dup', method: 'fido.wink', params: { device: id } });
    const r = await c.call('fido.wink', { device: id }, 'dup');
    expect(r.error).toMatchObject({ code: -32600, data: { code: 'INVALID_REQUEST' } });
    key.hold = false;
    key.release();
    const done = await c.next();
    expect(done).toMatchObject({ id: 'dup', result: {} });
  });
});

const methods = ['initialize', 'devices.list', 'fido.info', 'fido.pin.status', 'fido.pin.set', 'fido.pin.change', 'fido.pin.verify', 'fido.reset', 'fido.makeCredential', 'fido.getAssertion', 'fido.wink', 'events.subscribe', 'events.unsubscribe', '$/cancelRequest', 'rpc.discover', ''];

function wellFormed(r: any): void {
  expect(r).toBeTypeOf('object');
  const list = Array.isArray(r) ? r : [r];
  for (const x of list) {
    expect(x.jsonrpc).toBe('2.0');
    expect(['string', 'number'].includes(typeof x.id) || x.id === null).toBe(true);
    expect('result' in x !== 'error' in x).toBe(true);
    if (x.error) {
      expect(Number.isInteger(x.error.code)).toBe(true);
      expect(typeof x.error.message).toBe('string');
      expect(typeof x.error.data?.code).toBe('string');
    }
  }
}

describe('property: arbitrary inbound messages (fast-check)', () => {
  it('arbitrary text: the server answers non-JSON with exactly one -32700 and never crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => {
        let isJson = true;
        try {
          JSON.parse(s);
        } catch {
          isJson = false;
        }
        const got = await exchange(s);
        for (const r of got) wellFormed(r);
        if (!isJson) expect(got.map((r) => r.error.code)).toEqual([-32700]);
      }),
      { numRuns: 150 },
    );
  });

  it('arbitrary JSON values: every answer is a well-formed response; non-requests get errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (v) => {
        const got = await exchange(JSON.stringify(v));
        for (const r of got) wellFormed(r);
        const isRequestLike = typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { jsonrpc?: unknown }).jsonrpc === '2.0' && typeof (v as { method?: unknown }).method === 'string';
        if (!isRequestLike && !Array.isArray(v)) {
          expect(got).toHaveLength(1);
          expect(got[0].error).toBeDefined();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('request-shaped objects with random methods and params: one well-formed answer per id and the server keeps serving', async () => {
    const params = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 2 }),
      fc.record({ device: fc.oneof(fc.constant(id), fc.string()), pin: fc.string(), newPin: fc.string(), currentPin: fc.string(), timeoutMs: fc.integer(), rpId: fc.string(), clientDataHash: fc.string(), user: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), params, fc.oneof(fc.integer(), fc.string({ maxLength: 20 })), async (method, p, rid) => {
        const msg = { jsonrpc: '2.0', id: rid, method, ...(p !== undefined ? { params: p } : {}) };
        const got = await exchange(JSON.stringify(msg));
        for (const r of got) wellFormed(r);
        expect(got.filter((r) => r.id === rid)).toHaveLength(1);
      }),
      { numRuns: 200 },
    );
    expect(unhandled).toEqual([]);
    // The server is still up and serving.
    expect((await c.call('devices.list', {})).result.devices).toHaveLength(1);
  });
});
