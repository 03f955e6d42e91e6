/**
 * The virtual authenticator's injected environment (OpenSK `Env`, Trussed platform traits):
 * clock, randomness, user presence and storage come from outside so tests control time,
 * touches and persistence, and the authenticator itself stays deterministic.
 *
 * Persistent state (what survives unplugging: PIN hash, retries, credentials, minPINLength,
 * forcePINChange) lives in `SimStorage`; power-cycle state (consecutive mismatches,
 * key-agreement key, pinUvAuthToken + permissions) is kept by the authenticator in memory
 * and dropped by `powerCycle()` (DESIGN.md §7, OpenSK `PersistentStore` vs `ClientPin`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { fromHex, toHex } from '../util/bytes.ts';
import { CancelledError } from '../protocol/transport-errors.ts';
import { KeytapError } from '../protocol/errors.ts';
import { systemClock, type Clock } from '../util/deadline.ts';

/** How the virtual user answers a touch request (`--touch`). */
export type TouchPolicy = 'auto' | 'deny' | 'none';

/** The outcome of one user-presence request. */
export type UserPresenceResult = 'approved' | 'denied' | 'timeout';

/** What the authenticator asks the virtual user to confirm. */
export interface UserPresenceRequest {
  /** The CTAP2 command waiting for the touch, e.g. `authenticatorReset`. */
  command: string;
  /** How long the authenticator waits before giving up (CTAP 2.1 §6.1.2: 30 s typical). */
  timeoutMs: number;
  /** Aborted when the host sends CTAPHID_CANCEL; the promise then rejects with `CancelledError`. */
  signal?: AbortSignal;
}

/** A stored discoverable or non-discoverable credential (ES256 only). */
export interface StoredCredential {
  /** Credential ID as handed to the host. */
  id: Uint8Array;
  rpId: string;
  /** PKCS#8 DER of the P-256 private key. Never logged. */
  privateKeyPkcs8: Uint8Array;
  /** Uncompressed public point coordinates. */
  publicX: Uint8Array;
  publicY: Uint8Array;
  userId?: Uint8Array;
  userName?: string;
  userDisplayName?: string;
  /** True when makeCredential asked for a resident (discoverable) key. */
  discoverable: boolean;
  signCount: number;
  createdAt: number;
}

/**
 * State that survives a power cycle (CTAP 2.1 §6.5.2.1 persistent PIN state; OpenSK
 * `PersistentStore`). `pinHash` is LEFT(SHA-256(PIN), 16), what the authenticator compares.
 */
export interface PersistentState {
  /** LEFT(SHA-256(PIN), 16), or null when no PIN is set (getInfo clientPin false). */
  pinHash: Uint8Array | null;
  /** Code-point length of the current PIN (needed when minPINLength rises, CTAP 2.1 §6.11.4). */
  pinCodePoints: number;
  /** pinRetries counter (CTAP 2.1 §6.5.2.1, max 8). */
  pinRetries: number;
  /** Current minimum PIN length in code points (getInfo 0x0D; default 4). */
  minPinLength: number;
  /** getInfo 0x0C forcePINChange. */
  forcePinChange: boolean;
  credentials: StoredCredential[];
  /** Global signature counter (CTAP 2.1 §6.1.1 "signCount"). */
  signCount: number;
}

/** Where persistent state is kept. */
export interface SimStorage {
  load(): PersistentState | null;
  save(state: PersistentState): void;
}

/** Keeps persistent state in memory (the default): a fresh process is a fresh key. */
export class MemoryStorage implements SimStorage {
  #state: PersistentState | null = null;
  load(): PersistentState | null {
    return this.#state ? clonePersistent(this.#state) : null;
  }
  save(state: PersistentState): void {
    this.#state = clonePersistent(state);
  }
}

/** Raised when a storage file cannot be read or parsed. */
export class SimStorageError extends KeytapError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SIM_STORAGE_ERROR', message, options);
  }
}

/**
 * Keeps persistent state in a JSON file (bytes as hex), written atomically (temp file +
 * rename) after every change, so a restarted simulator is the same key. The file holds a
 * PIN hash and private keys: it is test material, never a place for a real secret.
 */
export class JsonFileStorage implements SimStorage {
  constructor(readonly path: string) {}
  load(): PersistentState | null {
    if (!existsSync(this.path)) return null;
    try {
      return fromJson(JSON.parse(readFileSync(this.path, 'utf8')));
    } catch (e) {
      throw new SimStorageError(`cannot read simulator state file ${this.path}`, { cause: e });
    }
  }
  save(state: PersistentState): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(toJson(state), null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

function clonePersistent(s: PersistentState): PersistentState {
  return fromJson(JSON.parse(JSON.stringify(toJson(s))));
}

function toJson(s: PersistentState): unknown {
  return {
    pinHash: s.pinHash ? toHex(s.pinHash) : null,
    pinCodePoints: s.pinCodePoints,
    pinRetries: s.pinRetries,
    minPinLength: s.minPinLength,
    forcePinChange: s.forcePinChange,
    signCount: s.signCount,
    credentials: s.credentials.map((c) => ({
      ...c,
      id: toHex(c.id),
      privateKeyPkcs8: toHex(c.privateKeyPkcs8),
      publicX: toHex(c.publicX),
      publicY: toHex(c.publicY),
      userId: c.userId ? toHex(c.userId) : undefined,
    })),
  };
}

function fromJson(j: any): PersistentState {
  return {
    pinHash: typeof j.pinHash === 'string' ? fromHex(j.pinHash) : null,
    pinCodePoints: Number(j.pinCodePoints ?? 0),
    pinRetries: Number(j.pinRetries),
    minPinLength: Number(j.minPinLength ?? 4),
    forcePinChange: Boolean(j.forcePinChange),
    signCount: Number(j.signCount ?? 0),
    credentials: (j.credentials ?? []).map((c: any) => ({
      ...c,
      id: fromHex(c.id),
      privateKeyPkcs8: fromHex(c.privateKeyPkcs8),
      publicX: fromHex(c.publicX),
      publicY: fromHex(c.publicY),
      userId: typeof c.userId === 'string' ? fromHex(c.userId) : undefined,
    })),
  };
}

/**
 * The virtual user. `policy` is the default answer (`--touch`); `next()` queues one-off
 * answers for the following requests (the control plane's "approve/deny/ignore the next
 * touch"); `pending` tells a UI or test that a touch is being waited for.
 */
export class TouchController {
  policy: TouchPolicy;
  /** Delay before an `auto` approval; 0 answers at once. */
  autoDelayMs: number;
  #queue: TouchPolicy[] = [];
  #waiting = 0;
  #listeners = new Set<(req: UserPresenceRequest) => void>();

  /**
   * @param policy default answer, `auto` unless given.
   * @param autoDelayMs default 0.
   */
  constructor(policy: TouchPolicy = 'auto', autoDelayMs = 0) {
    this.policy = policy;
    this.autoDelayMs = autoDelayMs;
  }

  /** Answers the next request with `answer` instead of the policy (FIFO). */
  next(answer: TouchPolicy): void {
    this.#queue.push(answer);
  }

  /** Number of user-presence requests currently waiting for an answer. */
  get pending(): number {
    return this.#waiting;
  }

  /** Called whenever a touch is requested (e.g. to print "touch needed" in a UI). */
  onRequest(listener: (req: UserPresenceRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The `SimEnv.userPresence` implementation. */
  request = (req: UserPresenceRequest): Promise<UserPresenceResult> => {
    const answer = this.#queue.shift() ?? this.policy;
    for (const l of this.#listeners) l(req);
    return new Promise<UserPresenceResult>((resolve, reject) => {
      if (req.signal?.aborted) return reject(new CancelledError('user presence cancelled'));
      this.#waiting++;
      let timer: NodeJS.Timeout | undefined;
      const finish = (f: () => void): void => {
        if (timer) clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        this.#waiting--;
        f();
      };
      const onAbort = (): void => finish(() => reject(new CancelledError('user presence cancelled', { cause: req.signal?.reason })));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      if (answer === 'auto') {
        if (this.autoDelayMs <= 0) finish(() => resolve('approved'));
        else timer = setTimeout(() => finish(() => resolve('approved')), this.autoDelayMs);
      } else if (answer === 'deny') {
        finish(() => resolve('denied'));
      } else {
        // 'none': nobody touches the key; the authenticator's own timeout ends the wait.
        timer = setTimeout(() => finish(() => resolve('timeout')), req.timeoutMs);
      }
    });
  };
}

/** Everything the virtual authenticator takes from outside. */
export interface SimEnv {
  /** Milliseconds; drives the reset window and token lifetime. */
  clock: Clock;
  /** Cryptographic randomness (key-agreement keys, tokens, credential IDs). */
  random(n: number): Uint8Array;
  /** Asks the virtual user for a touch. Rejects with `CancelledError` on abort. */
  userPresence(req: UserPresenceRequest): Promise<UserPresenceResult>;
  storage: SimStorage;
}

/** Options of `createSimEnv`. */
export interface SimEnvOptions {
  /** Default `Date.now`. */
  clock?: Clock;
  /** Default `crypto.randomBytes`. */
  random?: (n: number) => Uint8Array;
  /** Default `auto`. Ignored when `touch` is given. */
  touchPolicy?: TouchPolicy;
  /** A controller to share with a control plane; default a new one from `touchPolicy`. */
  touch?: TouchController;
  /** Path of a JSON state file; default in-memory storage. */
  storagePath?: string;
  /** Explicit storage (overrides `storagePath`). */
  storage?: SimStorage;
}

/** Builds a `SimEnv` with defaults: system clock, crypto randomness, `auto` touch, memory storage. */
export function createSimEnv(options: SimEnvOptions = {}): SimEnv & { touch: TouchController } {
  const touch = options.touch ?? new TouchController(options.touchPolicy ?? 'auto');
  return {
    clock: options.clock ?? systemClock,
    random: options.random ?? ((n) => new Uint8Array(randomBytes(n))),
    userPresence: touch.request,
    storage: options.storage ?? (options.storagePath ? new JsonFileStorage(options.storagePath) : new MemoryStorage()),
    touch,
  };
}
