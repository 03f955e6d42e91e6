/**
 * Extension points other modules use without editing the agent (DESIGN.md §1): a method
 * registered with its JSON Schema and role (H6's `sim.*`, H5's `sim.card.*`), and a reader
 * provider whose card events become `card.present` / `card.removed` notifications. Plus the
 * agent error classes keep their names and stable codes (STYLE.md "Errors").
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestAgent, type TestAgent } from './helpers.ts';
import { KeytapRpcError } from '../../../src/client/keytap-client.ts';
import type { CardEvent, ProviderEvent, ReaderDevice, ReaderProvider } from '../../../src/agent/providers.ts';
import { deviceIdFor } from '../../../src/agent/device-registry.ts';
import * as errors from '../../../src/agent/agent-errors.ts';

let t: TestAgent;
beforeEach(async () => {
  t = await startTestAgent();
});
afterEach(async () => {
  await t.close();
});

describe('method registry', () => {
  it('an extension method gets schema validation, role checks and a place in capabilities', async () => {
    t.agent.registerMethod<{ n: number }, { doubled: number }>({
      name: 'sim.test.double',
      params: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
      role: 'admin',
      handler: (p) => ({ doubled: p.n * 2 }),
    });
    const client = await t.connect();
    expect(client.info.capabilities.methods).toContain('sim.test.double');
    const forbidden = (await client.request('sim.test.double', { n: 2 }).catch((e: unknown) => e)) as KeytapRpcError;
    expect(forbidden).toBeInstanceOf(KeytapRpcError);
    expect(forbidden.code).toBe('FORBIDDEN');
    const admin = await t.connect({ token: ADMIN_TOKEN });
    expect(await admin.request('sim.test.double', { n: 21 })).toEqual({ doubled: 42 });
    const bad = (await admin.request('sim.test.double', { n: 'x' }).catch((e: unknown) => e)) as KeytapRpcError;
    expect(bad.rpcCode).toBe(-32602);
    expect(() => t.agent.registerMethod({ name: 'sim.test.double', params: {}, role: 'admin', handler: () => null })).toThrow(/already registered/);
  });
});

describe('config.get (admin)', () => {
  it('returns the effective configuration to admins and is FORBIDDEN to clients', async () => {
    const admin = await t.connect({ token: ADMIN_TOKEN });
    const cfg = (await admin.request('config.get', {})) as { socket: string; limits: { maxPendingRequests: number }; socketMode: string };
    expect(cfg.socket).toBe(t.socket);
    expect(cfg.socketMode).toBe('0660');
    expect(cfg.limits.maxPendingRequests).toBe(16);
    const client = await t.connect();
    const e = (await client.request('config.get', {}).catch((x: unknown) => x)) as KeytapRpcError;
    expect(e.code).toBe('FORBIDDEN');
  });
});

describe('reader provider slot', () => {
  it('readers are listed as kind "reader" and their card events reach subscribers of "card"', async () => {
    const listeners = new Set<(e: CardEvent) => void>();
    const reader: ReaderDevice = { kind: 'reader', key: 'vpcd-0', name: 'Virtual PCD 00 00', transport: 'pcsc' };
    const provider: ReaderProvider = {
      name: 'pcsc',
      list: async () => [reader],
      watch: (_l: (e: ProviderEvent<ReaderDevice>) => void) => () => undefined,
      watchCards: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      close: async () => undefined,
    };
    await t.agent.addProvider(provider);
    const c = await t.connect({ subscribe: ['card'] });
    const rid = deviceIdFor('reader', 'pcsc', 'vpcd-0');
    expect((await c.devicesList()).devices).toEqual([{ id: rid, kind: 'reader', transport: 'pcsc', name: 'Virtual PCD 00 00' }]);
    const present = new Promise((r) => c.once('card.present', r));
    const removed = new Promise((r) => c.once('card.removed', r));
    for (const l of listeners) l({ type: 'card.present', readerKey: 'vpcd-0', card: { uid: '04a1b2c3', atr: '3b8f8001804f0ca000000306030001000000006a' } });
    for (const l of listeners) l({ type: 'card.removed', readerKey: 'vpcd-0', card: { uid: '04a1b2c3' } });
    expect(await present).toMatchObject({ reader: rid, card: { uid: '04a1b2c3', atr: '3b8f8001804f0ca000000306030001000000006a' } });
    expect(await removed).toMatchObject({ reader: rid, card: { uid: '04a1b2c3' } });
  });
});

describe('agent error classes keep name and code', () => {
  it.each([
    [new errors.UnauthorizedError(), 'UnauthorizedError', 'UNAUTHORIZED'],
    [new errors.ForbiddenError('x'), 'ForbiddenError', 'FORBIDDEN'],
    [new errors.NotInitializedError(), 'NotInitializedError', 'NOT_INITIALIZED'],
    [new errors.InvalidParamsError('x'), 'InvalidParamsError', 'INVALID_PARAMS'],
    [new errors.InvalidRequestError('x'), 'InvalidRequestError', 'INVALID_REQUEST'],
    [new errors.ParseError(), 'ParseError', 'PARSE_ERROR'],
    [new errors.MethodNotFoundError('m'), 'MethodNotFoundError', 'METHOD_NOT_FOUND'],
    [new errors.DeviceNotFoundError('d'), 'DeviceNotFoundError', 'DEVICE_NOT_FOUND'],
    [new errors.RpIdNotAllowedError('a', 'https://b'), 'RpIdNotAllowedError', 'RP_ID_NOT_ALLOWED'],
    [new errors.RateLimitedError(10, 'token'), 'RateLimitedError', 'RATE_LIMITED'],
    [new errors.TooManyRequestsError(3), 'TooManyRequestsError', 'TOO_MANY_REQUESTS'],
    [new errors.ConfigError('x'), 'ConfigError', 'CONFIG_INVALID'],
  ])('%s', (e, name, code) => {
    expect(e.name).toBe(name);
    expect(e.code).toBe(code);
  });
});
