/**
 * Interop: Debian's python3-fido2 0.9.1 (an independent client) drives `keytap simulate --udp`
 * through a UDP CtapHidConnection (test/interop/fido2_udp.py): getInfo, getPINRetries, set,
 * change, wrong PIN with retries, soft block after 3 (fido.md §5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pythonModule, requireService } from '../helpers/services.ts';
import { repoRoot, spawnSimulator, type SimulatorProcess } from '../interop/spawn-simulator.ts';

const run = promisify(execFile);
const gate = await requireService('python3-fido2', pythonModule('fido2'));

describe.skipIf(gate.skip)('python3-fido2 0.9.1 against keytap simulate --udp', () => {
  let sim: SimulatorProcess;
  beforeAll(async () => {
    sim = await spawnSimulator();
  });
  afterAll(async () => {
    expect(await sim?.stop()).toBe(0); // SIGTERM exits cleanly
  });

  it('runs getInfo, getPINRetries, setPIN, changePIN, wrong PINs with retries and the soft block (fido.md §5)', async () => {
    const { stdout } = await run('/usr/bin/python3', [join(repoRoot, 'test/interop/fido2_udp.py'), sim.host, String(sim.port), 'scenario'], { timeout: 20_000 });
    const steps = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: string })
        .map((s) => [s.step, s]),
    ) as Record<string, any>;
    expect(steps.getInfo.versions).toContain('FIDO_2_1');
    expect(steps.getInfo.pinProtocols).toEqual([2, 1]);
    expect(steps.getInfo.clientPin).toBe(false);
    expect(steps.protocol.version).toBe(2); // python-fido2 prefers v2 (fido.md §14.6)
    expect(steps['getPINRetries-no-pin'].status).toBe(0x35); // YubiKey profile: PIN_NOT_SET
    expect(steps.setPIN.status).toBe(0);
    expect(steps.getPINRetries).toMatchObject({ retries: 8, powerCycleState: false });
    expect(steps['clientPin-after-set'].clientPin).toBe(true);
    expect(steps.changePIN.status).toBe(0);
    expect(steps['token-new-pin'].status).toBe(0);
    expect(steps['wrong-pin-1']).toMatchObject({ status: 0x31, retries: 7, powerCycleState: false });
    expect(steps['wrong-pin-2']).toMatchObject({ status: 0x31, retries: 6, powerCycleState: false });
    expect(steps['wrong-pin-3']).toMatchObject({ status: 0x34, retries: 5, powerCycleState: true });
    expect(steps['right-pin-while-soft-blocked']).toMatchObject({ status: 0x34, retries: 5, powerCycleState: true });
  });
});
