import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStorage, MemoryStorage, TouchController, createSimEnv, type PersistentState } from '../../../src/sim/env.ts';
import { CancelledError } from '../../../src/protocol/transport-errors.ts';

const state = (): PersistentState => ({
  pinHash: new Uint8Array(16).fill(7),
  pinCodePoints: 4,
  pinRetries: 5,
  minPinLength: 4,
  forcePinChange: true,
  signCount: 3,
  credentials: [],
});

describe('simulator environment', () => {
  afterEach(() => vi.useRealTimers());

  it('touch policy auto approves, deny denies', async () => {
    await expect(new TouchController('auto').request({ command: 'x', timeoutMs: 1000 })).resolves.toBe('approved');
    await expect(new TouchController('deny').request({ command: 'x', timeoutMs: 1000 })).resolves.toBe('denied');
  });

  it("touch policy none never answers until the authenticator's timeout", async () => {
    vi.useFakeTimers();
    const t = new TouchController('none');
    let result: string | undefined;
    void t.request({ command: 'x', timeoutMs: 30_000 }).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(result).toBeUndefined();
    expect(t.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe('timeout');
    expect(t.pending).toBe(0);
  });

  it('a queued answer overrides the policy once; abort rejects with CancelledError', async () => {
    const t = new TouchController('auto');
    t.next('deny');
    await expect(t.request({ command: 'x', timeoutMs: 10 })).resolves.toBe('denied');
    await expect(t.request({ command: 'x', timeoutMs: 10 })).resolves.toBe('approved');
    t.next('none');
    const ac = new AbortController();
    const p = t.request({ command: 'x', timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
  });

  it('memory storage returns copies; JSON file storage round-trips persistent state', () => {
    const m = new MemoryStorage();
    expect(m.load()).toBeNull();
    const s = state();
    m.save(s);
    s.pinRetries = 1;
    expect(m.load()!.pinRetries).toBe(5);

    const dir = mkdtempSync(join(tmpdir(), 'keytap-sim-'));
    try {
      const f = new JsonFileStorage(join(dir, 'state.json'));
      expect(f.load()).toBeNull();
      f.save(state());
      expect(f.load()).toEqual(state());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('createSimEnv defaults to memory storage and crypto randomness', () => {
    const env = createSimEnv();
    expect(env.storage).toBeInstanceOf(MemoryStorage);
    expect(env.random(16)).toHaveLength(16);
  });
});
