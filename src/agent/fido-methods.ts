/**
 * The `fido.*` methods (DESIGN.md §5): each runs in the device's FIFO queue, opens the
 * authenticator for that one transaction, and hands the request's AbortSignal, deadline and
 * progress callback to the FIDO client (aborting sends CTAPHID_CANCEL). PIN set/change/verify
 * and reset are audited; a confirmed set/change/reset is announced with `fido.pin.changed`.
 */
import { methodParamSchemas } from '../api/schema.ts';
import type {
  FidoInfoParams,
  GetAssertionParams,
  GetAssertionResult,
  MakeCredentialParams,
  MakeCredentialResult,
  PinChangeParams,
  PinSetParams,
  PinStatusParams,
  PinStatusResult,
  PinVerifyParams,
  ResetParams,
  WinkParams,
} from '../api/types.ts';
import { KeytapError } from '../protocol/errors.ts';
import { CancelledError, DeviceRemovedError, TimeoutError } from '../protocol/transport-errors.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import { fromBase64Url, toBase64Url } from '../util/bytes.ts';
import type { AgentServices } from './services.ts';
import type { MethodContext } from './method-registry.ts';
import type { FidoOps, FidoOpOptions } from './fido-ops.ts';
import type { AuditAction } from './audit.ts';
import { DeviceNotFoundError, InvalidParamsError, RpIdNotAllowedError } from './agent-errors.ts';
import { rpIdAllowedForOrigin } from './rp-id.ts';
import { toJsonValue } from './json-value.ts';

/** Runs `op` on device `deviceId` in its queue with a fresh transport and FIDO client. */
export async function withAuthenticator<T>(agent: AgentServices, ctx: MethodContext, deviceId: string, op: (client: FidoOps, o: FidoOpOptions) => Promise<T>): Promise<T> {
  const dev = agent.devices.authenticator(deviceId);
  if (!dev) throw new DeviceNotFoundError(deviceId);
  return agent.queueFor(deviceId).run({ signal: ctx.signal, deadline: ctx.deadline }, async (signal) => {
    ctx.deadline.check('waiting for the device');
    const transport = await dev.open(signal);
    try {
      return await op(agent.fidoClient(transport), { signal, deadline: ctx.deadline, onProgress: (p) => ctx.progress(p) });
    } catch (e) {
      // The queue aborts with DEVICE_REMOVED when the key goes away; report that, not the CANCELLED it caused.
      if (signal.aborted && signal.reason instanceof DeviceRemovedError) throw signal.reason;
      throw e;
    } finally {
      await transport.close().catch(() => undefined);
    }
  });
}

function publicStatus(s: PinStatus): PinStatusResult {
  const out: PinStatusResult = {
    state: s.state,
    retriesLeft: s.retriesLeft,
    maxRetries: s.maxRetries,
    powerCycleRequired: s.powerCycleRequired,
    minLength: s.minLength,
    maxLength: s.maxLength,
  };
  if (s.uvRetriesLeft !== undefined) out.uvRetriesLeft = s.uvRetriesLeft;
  return out;
}

async function audited(agent: AgentServices, ctx: MethodContext, action: AuditAction, device: string, fn: () => Promise<PinStatus>): Promise<PinStatusResult> {
  try {
    const status = publicStatus(await fn());
    agent.audit.record({ action, caller: ctx.caller, device, outcome: 'ok', retriesLeft: status.retriesLeft });
    return status;
  } catch (e) {
    const d = e instanceof KeytapError ? e.details : {};
    agent.audit.record({
      action,
      caller: ctx.caller,
      device,
      outcome: e instanceof KeytapError ? e.code : 'INTERNAL',
      ...(d.retriesLeft !== undefined ? { retriesLeft: d.retriesLeft as number | null } : {}),
      ...(typeof d.ctapStatus === 'number' ? { ctapStatus: d.ctapStatus } : {}),
    });
    throw e;
  }
}

function bytesParam(name: string, value: string, length?: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = fromBase64Url(value);
  } catch {
    throw new InvalidParamsError(`${name} must be base64url`);
  }
  if (length !== undefined && b.length !== length) throw new InvalidParamsError(`${name} must be ${length} bytes (base64url), got ${b.length}`);
  return b;
}

function checkRpId(ctx: MethodContext, rpId: string): void {
  if (ctx.caller.origin !== undefined && !rpIdAllowedForOrigin(rpId, ctx.caller.origin)) throw new RpIdNotAllowedError(rpId, ctx.caller.origin);
}

/**
 * Waits until device `id` is detached / attached again (the registry's events), within the
 * request's deadline and signal. The same id after re-insertion means the same key (ids come from
 * VID:PID:serial), which is the check a guided reset needs before erasing anything.
 */
function waitForDevice(agent: AgentServices, ctx: MethodContext, id: string, event: 'detached' | 'attached'): Promise<void> {
  if (event === 'detached' ? !agent.devices.has(id) : agent.devices.has(id)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const on = (d: { id: string }): void => {
      if (d.id !== id) return;
      done();
      resolve();
    };
    const onAbort = (): void => {
      done();
      reject(new CancelledError('reset cancelled while waiting for the key', { cause: ctx.signal.reason }));
    };
    const timer = setTimeout(() => {
      done();
      reject(new TimeoutError(event === 'detached' ? 'the key was not removed in time' : 'the key was not inserted again in time'));
    }, ctx.deadline.remaining());
    const done = (): void => {
      clearTimeout(timer);
      agent.devices.off(event, on);
      ctx.signal.removeEventListener('abort', onAbort);
    };
    agent.devices.on(event, on);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function registerFidoMethods(agent: AgentServices): void {
  agent.registerMethod<FidoInfoParams, Record<string, unknown>>({
    name: 'fido.info',
    params: methodParamSchemas['fido.info'],
    role: 'client',
    handler: (p, ctx) => withAuthenticator(agent, ctx, p.device, async (c, o) => toJsonValue(await c.getInfo(o)) as Record<string, unknown>),
  });

  agent.registerMethod<PinStatusParams, PinStatusResult>({
    name: 'fido.pin.status',
    params: methodParamSchemas['fido.pin.status'],
    role: 'client',
    handler: (p, ctx) => withAuthenticator(agent, ctx, p.device, async (c, o) => publicStatus(await c.pinStatus(o))),
  });

  agent.registerMethod<PinSetParams, PinStatusResult>({
    name: 'fido.pin.set',
    params: methodParamSchemas['fido.pin.set'],
    role: 'client',
    secretParams: ['newPin'],
    pinAttempt: true,
    async handler(p, ctx) {
      const status = await audited(agent, ctx, 'pin.set', p.device, () => withAuthenticator(agent, ctx, p.device, (c, o) => c.setPin(ctx.secrets.newPin, o)));
      agent.notify('fido.pin.changed', { device: p.device, cause: 'set', status });
      return status;
    },
  });

  agent.registerMethod<PinChangeParams, PinStatusResult>({
    name: 'fido.pin.change',
    params: methodParamSchemas['fido.pin.change'],
    role: 'client',
    secretParams: ['currentPin', 'newPin'],
    pinAttempt: true,
    async handler(p, ctx) {
      const status = await audited(agent, ctx, 'pin.change', p.device, () =>
        withAuthenticator(agent, ctx, p.device, (c, o) => c.changePin(ctx.secrets.currentPin, ctx.secrets.newPin, { ...o, confirmLastAttempt: p.confirmLastAttempt === true })),
      );
      agent.notify('fido.pin.changed', { device: p.device, cause: 'change', status });
      return status;
    },
  });

  agent.registerMethod<PinVerifyParams, PinStatusResult>({
    name: 'fido.pin.verify',
    params: methodParamSchemas['fido.pin.verify'],
    role: 'client',
    secretParams: ['pin'],
    pinAttempt: true,
    handler: (p, ctx) =>
      audited(agent, ctx, 'pin.verify', p.device, () => withAuthenticator(agent, ctx, p.device, (c, o) => c.verifyPin(ctx.secrets.pin, { ...o, confirmLastAttempt: p.confirmLastAttempt === true }))),
  });

  agent.registerMethod<ResetParams, PinStatusResult>({
    name: 'fido.reset',
    params: methodParamSchemas['fido.reset'],
    role: 'admin',
    async handler(p, ctx) {
      if (!agent.devices.authenticator(p.device)) throw new DeviceNotFoundError(p.device);
      if (p.guided) {
        ctx.progress('remove-key');
        await waitForDevice(agent, ctx, p.device, 'detached');
        ctx.progress('insert-key');
        await waitForDevice(agent, ctx, p.device, 'attached');
      }
      const status = await audited(agent, ctx, 'reset', p.device, () => withAuthenticator(agent, ctx, p.device, (c, o) => c.reset(o)));
      agent.notify('fido.pin.changed', { device: p.device, cause: 'reset', status });
      return status;
    },
  });

  agent.registerMethod<MakeCredentialParams, MakeCredentialResult>({
    name: 'fido.makeCredential',
    params: methodParamSchemas['fido.makeCredential'],
    role: 'client',
    secretParams: ['pin'],
    pinAttempt: 'if-secret',
    handler(p, ctx) {
      checkRpId(ctx, p.rpId);
      if (p.rp?.id !== undefined && p.rp.id !== p.rpId) throw new InvalidParamsError('rp.id must equal rpId when given');
      const req = {
        rpId: p.rpId,
        rp: { id: p.rpId, ...(p.rp?.name !== undefined ? { name: p.rp.name } : {}) },
        user: { id: bytesParam('user.id', p.user.id), ...(p.user.name !== undefined ? { name: p.user.name } : {}), ...(p.user.displayName !== undefined ? { displayName: p.user.displayName } : {}) },
        clientDataHash: bytesParam('clientDataHash', p.clientDataHash, 32),
        ...(ctx.secrets.pin ? { pin: ctx.secrets.pin } : {}),
        ...(p.residentKey !== undefined ? { residentKey: p.residentKey } : {}),
        ...(p.userVerification !== undefined ? { userVerification: p.userVerification } : {}),
        ...(p.excludeList ? { excludeList: p.excludeList.map((c) => bytesParam('excludeList[]', c)) } : {}),
        ...(p.algorithms ? { algorithms: p.algorithms } : {}),
      };
      return withAuthenticator(agent, ctx, p.device, async (c, o) => {
        const r = await c.makeCredential(req, o);
        return {
          fmt: r.fmt,
          authData: toBase64Url(r.authData),
          attStmt: toJsonValue(r.attStmt) as Record<string, unknown>,
          credentialId: toBase64Url(r.credentialId),
          publicKey: toJsonValue(r.publicKey) as Record<string, unknown>,
        };
      });
    },
  });

  agent.registerMethod<GetAssertionParams, GetAssertionResult>({
    name: 'fido.getAssertion',
    params: methodParamSchemas['fido.getAssertion'],
    role: 'client',
    secretParams: ['pin'],
    pinAttempt: 'if-secret',
    handler(p, ctx) {
      checkRpId(ctx, p.rpId);
      const req = {
        rpId: p.rpId,
        clientDataHash: bytesParam('clientDataHash', p.clientDataHash, 32),
        ...(p.allowCredentials ? { allowCredentials: p.allowCredentials.map((c) => bytesParam('allowCredentials[]', c)) } : {}),
        ...(ctx.secrets.pin ? { pin: ctx.secrets.pin } : {}),
        ...(p.userVerification !== undefined ? { userVerification: p.userVerification } : {}),
      };
      return withAuthenticator(agent, ctx, p.device, async (c, o) => {
        const list = await c.getAssertion(req, o);
        return { assertions: list.map((a) => toJsonValue(a) as GetAssertionResult['assertions'][number]) };
      });
    },
  });

  agent.registerMethod<WinkParams, Record<string, never>>({
    name: 'fido.wink',
    params: methodParamSchemas['fido.wink'],
    role: 'client',
    handler: (p, ctx) => withAuthenticator(agent, ctx, p.device, async (c, o) => (await c.wink(o), {})),
  });
}
