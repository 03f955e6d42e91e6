/**
 * The FIDO client contract: ONE suite that states the spec's numbers (fido.md §5: 8 retries,
 * soft lock after 3 consecutive mismatches, hard lock at 0), run against every implementation
 * of a key: the in-process virtual authenticator, the simulator over UDP, and a real key
 * (KEYTAP_HIL_DEVICE; destructive steps only with KEYTAP_HIL_DESTRUCTIVE=1).
 *
 * Steps run in order and share the key's state, like python-fido2's tests/device suite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FidoClient } from '../../src/fido/fido-client.ts';
import { Pin } from '../../src/protocol/secret.ts';

/** One key under test. */
export interface ContractTarget {
  /** Opens a new transaction (HID keys are held only per transaction) and returns a client on it. */
  open(): Promise<FidoClient>;
  /** Removes and re-inserts the key (USB) / resets the field (NFC). */
  powerCycle(): Promise<void>;
  /** Releases everything (child processes, sockets). */
  close(): Promise<void>;
}

const PIN = '4826';
const NEW_PIN = '739105';
const WRONG = '000000';

/** Runs `fn` with a fresh client and closes its transport afterwards. */
async function withClient<T>(t: ContractTarget, fn: (c: FidoClient) => Promise<T>): Promise<T> {
  const c = await t.open();
  try {
    return await fn(c);
  } finally {
    await c.transport.close();
  }
}

/**
 * Registers the contract suite for `name`. With `destructive` (default true) the key is reset
 * first and walked through the PIN state machine; without it only read-only steps run.
 */
export function fidoContract(name: string, factory: () => Promise<ContractTarget>, options: { skip?: boolean; destructive?: boolean } = {}): void {
  const destructive = options.destructive ?? true;
  describe.skipIf(options.skip === true)(`FIDO client contract: ${name}`, () => {
    let t: ContractTarget;
    beforeAll(async () => {
      t = await factory();
      if (destructive) {
        // Start from a fresh key: reset inside the window after a power cycle (fido.md §10).
        await t.powerCycle();
        await withClient(t, (c) => c.reset());
      }
    });
    afterAll(async () => {
      await t?.close();
    });

    const status = () => withClient(t, (c) => c.pinStatus());
    const verify = (pin: string, confirmLastAttempt = false) => withClient(t, (c) => c.verifyPin(Pin.fromString(pin), { confirmLastAttempt }));
    const pick = (s: { state: string; retriesLeft: number | null }) => ({ state: s.state, retriesLeft: s.retriesLeft });

    it('reads getInfo and a PIN state with the CTAP length limits (fido.md §6)', async () => {
      const info = await withClient(t, (c) => c.getInfo());
      expect(info.versions.length).toBeGreaterThan(0);
      const s = await status();
      expect(s.minLength).toBeGreaterThanOrEqual(4);
      expect(s.maxLength).toBeLessThanOrEqual(63);
    });

    describe.runIf(destructive)('PIN state machine (fido.md §5 canonical sequence)', () => {
      it('a fresh key has no PIN and retries are not polled', async () => {
        expect(pick(await status())).toEqual({ state: 'no-pin', retriesLeft: null });
        await expect(verify(PIN)).rejects.toMatchObject({ code: 'PIN_NOT_SET' });
      });

      it('set PIN → ok with 8 retries, verified after the change', async () => {
        const s = await withClient(t, (c) => c.setPin(Pin.fromString(PIN)));
        expect(pick(s)).toEqual({ state: 'ok', retriesLeft: 8 });
        await expect(withClient(t, (c) => c.setPin(Pin.fromString(PIN)))).rejects.toMatchObject({ code: 'PIN_ALREADY_SET' });
      });

      it('1st wrong PIN → PIN_INVALID with 7 left', async () => {
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 7 } });
      });

      it('2nd wrong PIN → PIN_INVALID with 6 left', async () => {
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 6 } });
      });

      it('3rd consecutive wrong PIN → PIN_SOFT_BLOCKED with 5 left', async () => {
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED', details: { retriesLeft: 5 } });
      });

      it('the right PIN is refused while soft-blocked and the retries stay at 5', async () => {
        await expect(verify(PIN)).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED' });
        const s = await status();
        expect(s.retriesLeft).toBe(5);
      });

      it('after a power cycle a wrong PIN → PIN_INVALID with 4 left', async () => {
        await t.powerCycle();
        expect(pick(await status())).toEqual({ state: 'ok', retriesLeft: 5 });
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 4 } });
      });

      it('the right PIN → ok, retries back at 8', async () => {
        expect(pick(await verify(PIN))).toEqual({ state: 'ok', retriesLeft: 8 });
      });

      it('change PIN → ok 8; the new PIN verifies and the old one is wrong', async () => {
        const s = await withClient(t, (c) => c.changePin(Pin.fromString(PIN), Pin.fromString(NEW_PIN)));
        expect(pick(s)).toEqual({ state: 'ok', retriesLeft: 8 });
        expect(pick(await verify(NEW_PIN))).toEqual({ state: 'ok', retriesLeft: 8 });
        await expect(verify(PIN)).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 7 } });
        expect(pick(await verify(NEW_PIN))).toEqual({ state: 'ok', retriesLeft: 8 });
      });

      it('policy violations are refused before anything is sent (attempt count unchanged)', async () => {
        await expect(withClient(t, (c) => c.changePin(Pin.fromString(NEW_PIN), Pin.fromString('12')))).rejects.toMatchObject({
          code: 'PIN_POLICY_VIOLATION',
          details: { rule: 'min-length' },
        });
        await expect(withClient(t, (c) => c.changePin(Pin.fromString(WRONG), Pin.fromString('x'.repeat(64))))).rejects.toMatchObject({
          code: 'PIN_POLICY_VIOLATION',
          details: { rule: 'max-length' },
        });
        expect(pick(await status())).toEqual({ state: 'ok', retriesLeft: 8 });
      });

      it('with 1 attempt left a PIN attempt needs confirmation (CONFIRMATION_REQUIRED), then the right PIN restores 8', async () => {
        // 8 → 5 (soft) → power cycle → 2 (soft) → power cycle → 1
        for (const left of [7, 6]) await expect(verify(WRONG)).rejects.toMatchObject({ details: { retriesLeft: left } });
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED', details: { retriesLeft: 5 } });
        await t.powerCycle();
        for (const left of [4, 3]) await expect(verify(WRONG)).rejects.toMatchObject({ details: { retriesLeft: left } });
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_SOFT_BLOCKED', details: { retriesLeft: 2 } });
        await t.powerCycle();
        await expect(verify(WRONG)).rejects.toMatchObject({ code: 'PIN_INVALID', details: { retriesLeft: 1 } });
        await expect(verify(NEW_PIN)).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', details: { retriesLeft: 1 } });
        await expect(withClient(t, (c) => c.changePin(Pin.fromString(NEW_PIN), Pin.fromString(PIN)))).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
        expect(pick(await status())).toEqual({ state: 'ok', retriesLeft: 1 });
        expect(pick(await verify(NEW_PIN, true))).toEqual({ state: 'ok', retriesLeft: 8 });
      });

      it('reset inside the window after a power cycle → no PIN again', async () => {
        await t.powerCycle();
        expect(pick(await withClient(t, (c) => c.reset()))).toEqual({ state: 'no-pin', retriesLeft: null });
      });
    });
  });
}
