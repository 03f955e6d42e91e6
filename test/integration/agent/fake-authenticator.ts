/**
 * A small fake authenticator for broker tests that do not need CTAP bytes: a FidoOps with the
 * PIN state machine's numbers (8 retries, soft lock after 3 consecutive wrong PINs, hard block at
 * 0), a "hold" switch that keeps an operation waiting for touch until released or cancelled
 * (counting cancels as the key would see CTAPHID_CANCEL), and a provider with plug/unplug.
 * The simulator-backed tests use the real FidoClient and virtual authenticator instead.
 */
import type { CtapTransport } from '../../../src/fido/ctap-transport.ts';
import type { PinStatus } from '../../../src/fido/pin-status.ts';
import type { Pin } from '../../../src/protocol/secret.ts';
import type { CborKey, CborValue } from '../../../src/protocol/cbor.ts';
import { KeytapError } from '../../../src/protocol/errors.ts';
import { CancelledError } from '../../../src/protocol/transport-errors.ts';
import type { FidoOps, FidoOpOptions } from '../../../src/agent/fido-ops.ts';
import type { AuthenticatorDevice, AuthenticatorProvider, ProviderEvent } from '../../../src/agent/providers.ts';

const dec = (p: Pin): string => new TextDecoder().decode(p.exposeSecret());

export class FakeKey {
  pin: string | null = null;
  retries = 8;
  consecutive = 0;
  /** When true, every operation waits (touch-needed) until `release()` or cancel. */
  hold = false;
  cancels = 0;
  ops: string[] = [];
  active = 0;
  maxActive = 0;
  #waiters: Array<() => void> = [];

  constructor(readonly key: string) {}

  release(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  get waitingForTouch(): number {
    return this.#waiters.length;
  }

  status(): PinStatus {
    const base = { maxRetries: 8, minLength: 4, maxLength: 63 };
    if (this.pin === null) return { state: 'no-pin', retriesLeft: null, powerCycleRequired: false, ...base };
    if (this.retries === 0) return { state: 'blocked', retriesLeft: 0, powerCycleRequired: false, ...base };
    if (this.consecutive >= 3) return { state: 'soft-blocked', retriesLeft: this.retries, powerCycleRequired: true, ...base };
    return { state: 'ok', retriesLeft: this.retries, powerCycleRequired: false, ...base };
  }

  async step(name: string, o?: FidoOpOptions): Promise<void> {
    this.ops.push(name);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      o?.onProgress?.('processing');
      if (!this.hold) return;
      o?.onProgress?.('touch-needed');
      await new Promise<void>((resolve, reject) => {
        if (o?.signal?.aborted) {
          this.cancels++;
          return reject(new CancelledError(`${name} was cancelled`));
        }
        const onAbort = (): void => {
          this.cancels++;
          const i = this.#waiters.indexOf(done);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new CancelledError(`${name} was cancelled`, { details: { ctapStatus: 0x2d } }));
        };
        const done = (): void => {
          o?.signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        o?.signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(done);
      });
    } finally {
      this.active--;
    }
  }

  #attempt(pin: Pin, confirm: boolean | undefined): void {
    if (this.pin === null) throw new KeytapError('PIN_NOT_SET', 'no PIN is set', { details: { ctapStatus: 0x35 } });
    if (this.retries === 0) throw new KeytapError('PIN_BLOCKED', 'blocked', { details: { ctapStatus: 0x32, retriesLeft: 0 } });
    if (this.consecutive >= 3) throw new KeytapError('PIN_SOFT_BLOCKED', 'soft blocked', { details: { ctapStatus: 0x34, retriesLeft: this.retries } });
    if (this.retries === 1 && !confirm) throw new KeytapError('CONFIRMATION_REQUIRED', 'confirm', { details: { retriesLeft: 1 } });
    if (dec(pin) !== this.pin) {
      this.retries--;
      this.consecutive++;
      if (this.retries === 0) throw new KeytapError('PIN_BLOCKED', 'blocked', { details: { ctapStatus: 0x32, retriesLeft: 0 } });
      if (this.consecutive >= 3) throw new KeytapError('PIN_SOFT_BLOCKED', 'soft blocked', { details: { ctapStatus: 0x34, retriesLeft: this.retries } });
      throw new KeytapError('PIN_INVALID', 'wrong PIN', { details: { ctapStatus: 0x31, retriesLeft: this.retries } });
    }
    this.retries = 8;
    this.consecutive = 0;
  }

  client(): FidoOps {
    return {
      getInfo: async (o) => {
        await this.step('getInfo', o);
        return new Map<number, unknown>([
          [1, ['FIDO_2_0', 'FIDO_2_1']],
          [3, new Uint8Array(16).fill(0xab)],
          [4, new Map([['clientPin', this.pin !== null]])],
        ]);
      },
      pinStatus: async (o) => {
        await this.step('pinStatus', o);
        return this.status();
      },
      setPin: async (p, o) => {
        await this.step('setPin', o);
        if (this.pin !== null) throw new KeytapError('PIN_ALREADY_SET', 'already set');
        if (dec(p).length < 4) throw new KeytapError('PIN_POLICY_VIOLATION', 'too short', { details: { rule: 'minLength' } });
        this.pin = dec(p);
        return this.status();
      },
      changePin: async (cur, next, o) => {
        await this.step('changePin', o);
        this.#attempt(cur, o?.confirmLastAttempt);
        if (dec(next).length < 4) throw new KeytapError('PIN_POLICY_VIOLATION', 'too short', { details: { rule: 'minLength' } });
        this.pin = dec(next);
        return this.status();
      },
      verifyPin: async (p, o) => {
        await this.step('verifyPin', o);
        this.#attempt(p, o?.confirmLastAttempt);
        return this.status();
      },
      reset: async (o) => {
        await this.step('reset', o);
        this.pin = null;
        this.retries = 8;
        this.consecutive = 0;
        return this.status();
      },
      makeCredential: async (p, o) => {
        await this.step('makeCredential', o);
        return {
          fmt: 'packed',
          authData: new Uint8Array(37).fill(1),
          attStmt: new Map<CborKey, CborValue>([['alg', -7], ['sig', new Uint8Array([1, 2, 3])]]),
          credentialId: new Uint8Array([9, 9, 9, p.clientDataHash[0]]),
          publicKey: new Map<CborKey, CborValue>([[1, 2], [3, -7], [-1, 1]]),
        };
      },
      getAssertion: async (p, o) => {
        await this.step('getAssertion', o);
        return [{ credentialId: new Uint8Array([9, 9, 9]), authData: new Uint8Array(37), signature: new Uint8Array([p.clientDataHash[0]]) }];
      },
      wink: async (o) => {
        await this.step('wink', o);
      },
    };
  }
}

/** A transport that only carries which fake key it belongs to. */
export class FakeTransport implements CtapTransport {
  readonly kind = 'virtual' as const;
  readonly capabilities = 0;
  closed = false;
  constructor(readonly fake: FakeKey) {}
  get descriptor(): string {
    return `fake:${this.fake.key}`;
  }
  async exchange(): Promise<Uint8Array> {
    throw new Error('fake transport carries no bytes');
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export const fakeFidoFactory = (t: CtapTransport): FidoOps => (t as FakeTransport).fake.client();

export class FakeProvider implements AuthenticatorProvider {
  readonly name = 'fake';
  readonly #devices = new Map<string, AuthenticatorDevice>();
  readonly #listeners = new Set<(e: ProviderEvent<AuthenticatorDevice>) => void>();

  plug(fake: FakeKey, name = `Fake Key ${fake.key}`): void {
    const d: AuthenticatorDevice = { kind: 'authenticator', key: fake.key, name, transport: 'virtual', simulated: true, open: async () => new FakeTransport(fake) };
    this.#devices.set(fake.key, d);
    for (const l of this.#listeners) l({ type: 'attached', device: d });
  }

  unplug(key: string): void {
    const d = this.#devices.get(key);
    if (!d) return;
    this.#devices.delete(key);
    for (const l of this.#listeners) l({ type: 'detached', device: d });
  }

  async list(): Promise<AuthenticatorDevice[]> {
    return [...this.#devices.values()];
  }
  watch(l: (e: ProviderEvent<AuthenticatorDevice>) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
