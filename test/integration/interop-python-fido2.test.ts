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
import { repoRoot, spawnSimulator, type SimulatorProcess, parseSteps } from '../interop/spawn-simulator.ts';

const run = promisify(execFile);
const gate = await requireService('python3-fido2', pythonModule('fido2'));

const cases = [
  // The default CTAP 2.1 key: python-fido2 picks PIN protocol 2 (fido.md §14.6), powerCycleState reported.
  { profile: 'yubikey-5-nfc-5.7', protocols: [2, 1], chosen: 2, pcs: [false, true] as const },
  // The pre-2.1 YubiKey capture: protocol 1 only, powerCycleState omitted (fido.md §14.7).
  { profile: 'yubikey-5-nfc-pin1', protocols: [1], chosen: 1, pcs: [null, null] as const },
];

describe.skipIf(gate.skip).each(cases)('python3-fido2 0.9.1 against keytap simulate --udp --profile $profile', (c) => {
  let sim: SimulatorProcess;
  beforeAll(async () => {
    sim = await spawnSimulator(['--profile', c.profile]);
  });
  afterAll(async () => {
    expect(await sim?.stop()).toBe(0); // SIGTERM exits cleanly
  });

  it(`runs getInfo, getPINRetries, setPIN, changePIN, wrong PINs with retries and the soft block with PIN protocol ${c.chosen} (fido.md §5)`, async () => {
    const { stdout } = await run('/usr/bin/python3', [join(repoRoot, 'test/interop/fido2_udp.py'), sim.host, String(sim.port), 'scenario'], { timeout: 20_000 });
    const steps = parseSteps(stdout);
    const [ok, blocked] = c.pcs;
    expect(steps.getInfo.pinProtocols).toEqual(c.protocols);
    expect(steps.getInfo.clientPin).toBe(false);
    expect(steps.protocol.version).toBe(c.chosen);
    expect(steps['getPINRetries-no-pin'].status).toBe(0x35); // YubiKey profiles: PIN_NOT_SET
    expect(steps.setPIN.status).toBe(0);
    expect(steps.getPINRetries).toMatchObject({ retries: 8, powerCycleState: ok });
    expect(steps['clientPin-after-set'].clientPin).toBe(true);
    expect(steps.changePIN.status).toBe(0);
    expect(steps['token-new-pin'].status).toBe(0);
    expect(steps['wrong-pin-1']).toMatchObject({ status: 0x31, retries: 7, powerCycleState: ok });
    expect(steps['wrong-pin-2']).toMatchObject({ status: 0x31, retries: 6, powerCycleState: ok });
    expect(steps['wrong-pin-3']).toMatchObject({ status: 0x34, retries: 5, powerCycleState: blocked });
    expect(steps['right-pin-while-soft-blocked']).toMatchObject({ status: 0x34, retries: 5, powerCycleState: blocked });
  });

  it('after a SIGUSR1 power cycle, makes two resident credentials with a PIN token and gets both assertions; python-fido2 verifies attestation and signatures', async () => {
    sim.child.kill('SIGUSR1'); // the scenario left the key soft-blocked (fido.md §5 step 5)
    for (let i = 0; i < 100 && !sim.stderr().includes('power cycle'); i++) await new Promise((r) => setTimeout(r, 20));
    const { stdout } = await run('/usr/bin/python3', [join(repoRoot, 'test/interop/fido2_udp.py'), sim.host, String(sim.port), 'credential', '56789'], { timeout: 20_000 });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const made = lines.filter((l) => l.step === 'makeCredential');
    expect(made).toHaveLength(2);
    for (const m of made) expect(m).toMatchObject({ fmt: 'packed', attestationType: 'SELF', flags: 0x45 }); // UP | UV | AT
    const ga = lines.find((l) => l.step === 'getAssertions')!;
    expect(ga).toMatchObject({ count: 2, numberOfCredentials: 2, users: ['alice', 'bob'], flags: [0x05, 0x05] });
    expect(ga.counters[1]).toBeGreaterThan(ga.counters[0]);
  });
});
