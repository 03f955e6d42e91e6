/**
 * The Linux advisory lock that libfido2 users (ssh `-sk`, systemd-cryptsetup, pam-u2f) take on
 * the hidraw fd for one transaction: `flock(fd, LOCK_EX|LOCK_NB)`, retried up to 20 times with
 * 100 ms·n back-off (fido.md §12).
 *
 * Node cannot call flock(2) without a native addon, and none of keytap's installed packages
 * exposes it (checked: node-hid 3.4.0 has no fd or lock API). So keytap ships the seam and a
 * no-op implementation; what it does instead is documented in docs/pin-management.md
 * ("Coexistence"): the device is opened only for one transaction and closed right after.
 */

/** A held lock; `release()` is idempotent. */
export interface DeviceLockHandle {
  release(): Promise<void>;
}

/** Takes the advisory lock on a device path for the span of one transaction. */
export interface DeviceLock {
  /** Resolves when the lock is held; rejects with `DeviceBusyError` when others hold it past the signal/deadline. */
  acquire(path: string, signal?: AbortSignal): Promise<DeviceLockHandle>;
  /** False for the no-op lock (callers may log that coexistence relies on short transactions). */
  readonly effective: boolean;
}

/** The default: takes no lock (Node has no flock); see the module comment. */
export const noopDeviceLock: DeviceLock = {
  effective: false,
  async acquire(): Promise<DeviceLockHandle> {
    return { release: async () => {} };
  },
};
