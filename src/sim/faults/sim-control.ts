/**
 * The simulator control plane (DESIGN.md §7): `sim.*` methods for the agent API (admin role)
 * and the `keytap sim` CLI. Plug, unplug, power cycle, the virtual user's next touch, the PIN
 * state, and faults, for the in-process virtual keys of `keytap serve --simulate`.
 *
 * This module knows nothing of the agent (sim never imports agent): it returns method
 * definitions (name, params JSON Schema, role, handler) that src/main.ts registers with
 * `agent.registerMethod`. `device` is the agent's public device id (`fido-…`), the simulator key
 * (`yubikey-5-nfc-5.7#0`) or the index; omitted, it means the only simulated key.
 */
import { KeytapError } from '../../protocol/errors.ts';
import { Pin } from '../../protocol/secret.ts';
import { CtapHidTransport } from '../../fido/ctap-hid-transport.ts';
import { FidoClient } from '../../fido/fido-client.ts';
import type { PinStatus } from '../../fido/pin-status.ts';
import type { VirtualAuthenticator } from '../authenticator/virtual-authenticator.ts';
import type { VirtualHidDevice } from '../virtual-hid.ts';
import type { TouchController } from '../env.ts';
import { FaultInjector, parseFaultSpec, type FaultSpec } from './fault-injector.ts';
import { configureMinPinLength } from './sim-config.ts';

/** One simulated key as the control plane needs it (src/main.ts `SimulatedKey`). */
export interface SimKeyLike {
  key: string;
  profile: string;
  authenticator: VirtualAuthenticator;
  hid: VirtualHidDevice;
  touch: TouchController;
  /** Faults for this key's connections (`keytap serve` wraps every open with it). */
  faults?: FaultInjector;
}

/** The simulated-key provider (src/main.ts `SimulatedAuthenticatorProvider`). */
export interface SimulatorLike {
  keys: SimKeyLike[];
  plug(index: number): void;
  unplug(index: number): void;
}

/** A method definition in the agent's registry shape (`MethodDefinition`), typed structurally. */
export interface SimMethod<P = any, R = unknown> {
  name: string;
  params: Record<string, unknown>;
  role: 'admin';
  secretParams?: readonly string[];
  handler(params: P, ctx: { secrets: Record<string, Pin>; signal?: AbortSignal }): Promise<R> | R;
}

/** A `device` that names no simulated key. */
export class SimDeviceNotFoundError extends KeytapError {
  constructor(device: string) {
    super('DEVICE_NOT_FOUND', `no simulated key "${device}" (sim.devices lists them)`, { details: { device } });
  }
}

/** A simulator request that cannot be done in the key's current state (e.g. plug a plugged key). */
export class SimStateError extends KeytapError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SIM_STATE', message, { details });
  }
}

/** Options of `createSimControl`. */
export interface SimControlOptions {
  /** The agent's public id of a key (`deviceIdFor('authenticator', 'sim', key)`); ids are then accepted and reported. */
  deviceId?: (key: string) => string;
}

const device = { type: 'string', minLength: 1, maxLength: 128 };
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties: { device, ...properties }, required, additionalProperties: false });

/** The wrong PIN used to spend retries in `sim.pin.setState` (never equal to the target PIN). */
function wrongPinFor(pin: string): string {
  return pin === '00000000' ? '11111111' : '00000000';
}

/** Builds the control plane over `sim`. */
export function createSimControl(sim: SimulatorLike, options: SimControlOptions = {}) {
  const idOf = (k: SimKeyLike): string => options.deviceId?.(k.key) ?? k.key;
  const find = (d: string | undefined): { k: SimKeyLike; index: number } => {
    if (d === undefined) {
      if (sim.keys.length === 1) return { k: sim.keys[0]!, index: 0 };
      throw new SimDeviceNotFoundError('(none given; name one of several)');
    }
    const index = sim.keys.findIndex((k, i) => k.key === d || idOf(k) === d || String(i) === d);
    if (index < 0) throw new SimDeviceNotFoundError(d);
    return { k: sim.keys[index]!, index };
  };
  const describe = (k: SimKeyLike, i: number) => ({
    device: idOf(k),
    key: k.key,
    index: i,
    profile: k.profile,
    plugged: k.hid.plugged,
    touch: k.touch.policy === 'auto' ? 'approve' : k.touch.policy === 'deny' ? 'deny' : 'ignore',
    pin: k.authenticator.pinState,
    fault: k.faults?.armed ?? null,
  });
  const powerCycle = (index: number): void => {
    const k = sim.keys[index]!;
    if (k.hid.plugged) sim.unplug(index);
    sim.plug(index);
  };
  /** A client straight on the virtual device (not through the agent's queue, no faults). */
  const withClient = async <T>(k: SimKeyLike, fn: (c: FidoClient) => Promise<T>): Promise<T> => {
    const c = new FidoClient(await CtapHidTransport.open(k.hid.open(), { kind: 'virtual', descriptor: k.hid.info.path }));
    try {
      return await fn(c);
    } finally {
      await c.transport.close();
    }
  };
  const touchMode = { enum: ['approve', 'deny', 'ignore'] };

  const methods: SimMethod[] = [
    {
      name: 'sim.devices',
      params: { type: 'object', properties: {}, additionalProperties: false },
      role: 'admin',
      handler: () => ({ devices: sim.keys.map(describe) }),
    },
    {
      name: 'sim.plug',
      params: obj({}),
      role: 'admin',
      handler: (p: { device?: string }) => {
        const { k, index } = find(p.device);
        if (k.hid.plugged) throw new SimStateError(`${k.key} is already plugged in`);
        sim.plug(index);
        return describe(k, index);
      },
    },
    {
      name: 'sim.unplug',
      params: obj({}),
      role: 'admin',
      handler: (p: { device?: string }) => {
        const { k, index } = find(p.device);
        if (!k.hid.plugged) throw new SimStateError(`${k.key} is already unplugged`);
        sim.unplug(index);
        return describe(k, index);
      },
    },
    {
      name: 'sim.powerCycle',
      params: obj({}),
      role: 'admin',
      handler: (p: { device?: string }) => {
        const { k, index } = find(p.device);
        powerCycle(index);
        return describe(k, index);
      },
    },
    {
      name: 'sim.touch',
      params: obj({ mode: touchMode, once: { type: 'boolean' } }, ['mode']),
      role: 'admin',
      handler: (p: { device?: string; mode: 'approve' | 'deny' | 'ignore'; once?: boolean }) => {
        const { k, index } = find(p.device);
        const policy = p.mode === 'approve' ? 'auto' : p.mode === 'deny' ? 'deny' : 'none';
        // once (default): only the next touch request; otherwise the virtual user's default answer.
        if (p.once === false) k.touch.policy = policy;
        else k.touch.next(policy);
        return describe(k, index);
      },
    },
    {
      name: 'sim.pin.setState',
      params: obj(
        {
          pin: { type: ['string', 'null'], minLength: 1, maxLength: 256 },
          retries: { type: 'integer', minimum: 0, maximum: 8 },
          forcePinChange: { type: 'boolean' },
          minPinLength: { type: 'integer', minimum: 4, maximum: 63 },
        },
        ['pin'],
      ),
      role: 'admin',
      // `pin` is taken out of params as a Pin by the agent; null (no PIN) stays in params.
      secretParams: ['pin'],
      handler: async (p: { device?: string; pin?: string | null; retries?: number; forcePinChange?: boolean; minPinLength?: number }, ctx) => {
        const { k, index } = find(p.device);
        const pin = ctx.secrets.pin ?? (typeof p.pin === 'string' ? Pin.fromString(p.pin) : undefined);
        try {
          if (!k.hid.plugged) throw new SimStateError(`${k.key} is unplugged; sim.plug it first`);
          if (!pin && p.retries !== undefined) throw new SimStateError('retries need a PIN');
          if (!pin && (p.forcePinChange || p.minPinLength !== undefined)) throw new SimStateError('forcePinChange and minPinLength need a PIN');
          // Configuring needs a token, and a token resets the retries to the maximum; a key that
          // must change its PIN refuses the attempts that would spend them (client-side too).
          if ((p.forcePinChange || p.minPinLength !== undefined) && (p.retries ?? 8) < 8) throw new SimStateError('set retries or forcePinChange/minPinLength, not both');
          // Through the authenticator's own CTAP surface, so the state is one a real key can be in:
          // reset (inside the window after power-up, touch approved), set the PIN, spend attempts.
          powerCycle(index);
          k.touch.next('auto');
          await withClient(k, (c) => c.reset());
          if (pin) {
            const text = new TextDecoder().decode(pin.exposeSecret());
            await withClient(k, (c) => c.setPin(Pin.fromString(text)));
            if (p.forcePinChange || p.minPinLength !== undefined) {
              // authenticatorConfig setMinPINLength, as an administrator's tool would send it.
              const cfg = { ...(p.forcePinChange ? { forceChangePin: true } : {}), ...(p.minPinLength !== undefined ? { newMinPINLength: p.minPinLength } : {}) };
              const t = await CtapHidTransport.open(k.hid.open(), { kind: 'virtual', descriptor: k.hid.info.path });
              try {
                await configureMinPinLength(t, Pin.fromString(text), cfg);
              } catch (e) {
                throw new SimStateError(`the key refused authenticatorConfig (${(e as Error).message}); its profile may not support setMinPINLength`);
              } finally {
                await t.close();
              }
            }
            const spend = 8 - (p.retries ?? 8);
            for (let i = 0; i < spend; i++) {
              if (i > 0 && i % 3 === 0) powerCycle(index); // soft lock after 3 in a row (CTAP 2.1 §6.5.2.1)
              await withClient(k, (c) => c.verifyPin(Pin.fromString(wrongPinFor(text)), { confirmLastAttempt: true })).catch(() => undefined);
            }
            if (spend > 0) powerCycle(index);
          }
          const status: PinStatus = await withClient(k, (c) => c.pinStatus());
          return { ...describe(k, index), status };
        } finally {
          pin?.wipe();
        }
      },
    },
    {
      name: 'sim.fault',
      params: obj({
        kind: { enum: ['disconnect', 'corrupt', 'busy', 'stall', 'slow', 'clear'] },
        atMessage: { type: 'integer', minimum: 1, maximum: 10000 },
        phase: { enum: ['before', 'after'] },
        target: { enum: ['cmd', 'seq'] },
        ms: { type: 'integer', minimum: 1, maximum: 600000 },
        keepalives: { enum: ['stop', 'forever'] },
        delayMs: { type: 'integer', minimum: 1, maximum: 600000 },
      }, ['kind']),
      role: 'admin',
      handler: (p: { device?: string; kind: string } & Record<string, unknown>) => {
        const { k, index } = find(p.device);
        if (!k.faults) throw new SimStateError(`${k.key} has no fault injector (run it under keytap serve --simulate)`);
        if (p.kind === 'clear') k.faults.clear();
        else {
          const { device: _d, ...spec } = p;
          k.faults.arm(parseFaultSpec(spec));
        }
        return describe(k, index);
      },
    },
  ];
  return { methods, find, describe: (d?: string) => { const { k, index } = find(d); return describe(k, index); } };
}

export type { FaultSpec };
