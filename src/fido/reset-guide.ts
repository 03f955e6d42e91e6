/**
 * The guided reset (fido.md §10, the ykman flow): a key accepts authenticatorReset only within
 * a few seconds of power-up (5 s Yubico, 10 s OpenSK/Nitrokey), so the technician re-inserts the
 * key and the reset is sent the moment it is back.
 *
 *   fingerprint (getInfo minus encIdentifier/encCredStoreState, which change every power cycle)
 *   → 'remove-key' → wait for detach → 'insert-key' → wait for attach → same key? (else
 *   DEVICE_MISMATCH) → reset at once → 'touch-needed' / 'processing' from keepalives.
 *
 * The caller confirms beforehand that every credential will be erased (the CLI asks).
 */
import type { DeviceSource } from '../drivers/device-source.ts';
import { encodeAuthenticatorInfo, type AuthenticatorInfo } from '../protocol/ctap2/get-info.ts';
import { toHex } from '../util/bytes.ts';
import { Deadline, throwIfAborted } from '../util/deadline.ts';
import { CancelledError, TimeoutError } from '../protocol/transport-errors.ts';
import type { FidoClient, OpOptions } from './fido-client.ts';
import type { PinStatus } from './pin-status.ts';
import { DeviceMismatchError } from './errors.ts';

/** How long the technician has to remove and re-insert the key. Default 60 s. */
export const DEFAULT_REINSERT_BUDGET_MS = 60_000;

/** Options of `guidedReset`. */
export interface GuidedResetOptions<T> extends OpOptions {
  /** The key as enumerated now. */
  device: T;
  /** Opens a client on a device (one transaction; the guide closes its transport). */
  open: (device: T, signal?: AbortSignal) => Promise<FidoClient>;
  /** Hotplug events (e.g. `HidDeviceSource`). */
  source: DeviceSource<T>;
  /** Whether an event's device is the one being reset (before the fingerprint check). Default: any FIDO device. */
  matches?: (a: T, b: T) => boolean;
  /** Budget for remove + re-insert. Default 60 s. */
  reinsertBudgetMs?: number;
}

/** getInfo without the members that change every power cycle (ykman `_ctap2_fingerprint`). */
export function deviceFingerprint(info: AuthenticatorInfo): string {
  const { encIdentifier: _a, encCredStoreState: _b, ...stable } = info;
  return toHex(encodeAuthenticatorInfo({ ...stable, unknown: info.unknown ?? new Map(), canonical: true }));
}

async function withClient<T, R>(open: () => Promise<FidoClient>, fn: (c: FidoClient) => Promise<R>): Promise<R> {
  const c = await open();
  try {
    return await fn(c);
  } finally {
    await c.transport.close();
  }
}

/** Waits for the first event `pick` accepts. */
function waitForEvent<T>(source: DeviceSource<T>, pick: (e: Parameters<Parameters<DeviceSource<T>['watch']>[0]>[0]) => T | null, deadline: Deadline, signal: AbortSignal | undefined, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stop();
      fn();
    };
    const onAbort = (): void => finish(() => reject(new CancelledError(`${what} was cancelled`, { cause: signal?.reason })));
    const timer = setTimeout(() => finish(() => reject(new TimeoutError(`${what}: the key was not ${what === 'removal' ? 'removed' : 're-inserted'} in time`))), deadline.remaining());
    const stop = source.watch((e) => {
      const d = pick(e);
      if (d !== null) finish(() => resolve(d));
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs the guided reset and returns the state afterwards (`no-pin`). Progress: 'remove-key',
 * 'insert-key', then 'touch-needed' / 'processing' during the reset itself.
 */
export async function guidedReset<T>(o: GuidedResetOptions<T>): Promise<PinStatus> {
  const matches = o.matches ?? (() => true);
  const before = await withClient(() => o.open(o.device, o.signal), (c) => c.getInfo({ signal: o.signal }));
  const fp = deviceFingerprint(before);
  const window = Deadline.in(o.reinsertBudgetMs ?? DEFAULT_REINSERT_BUDGET_MS);

  // The wait subscribes in the same tick as the prompt, so a quick hand is not missed; `watch`
  // replays the current devices as 'attached' first, which the removal wait ignores.
  o.onProgress?.('remove-key');
  await waitForEvent(o.source, (e) => (e.type === 'detached' && matches(e.device, o.device) ? e.device : null), window, o.signal, 'removal');
  o.onProgress?.('insert-key');
  const back = await waitForEvent(o.source, (e) => (e.type === 'attached' && matches(e.device, o.device) ? e.device : null), window, o.signal, 'insertion');
  throwIfAborted(o.signal, 'reset');

  // Same key? Then reset at once: the window after power-up is only a few seconds.
  return withClient(
    () => o.open(back, o.signal),
    async (c) => {
      const after = await c.getInfo({ signal: o.signal });
      if (deviceFingerprint(after) !== fp) throw new DeviceMismatchError();
      return c.reset({ ...(o.signal ? { signal: o.signal } : {}), ...(o.deadline ? { deadline: o.deadline } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
    },
  );
}
