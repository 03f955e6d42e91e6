/**
 * Interop: libfido2 (Debian 1.12) drives `keytap simulate --udp` through a small C harness
 * using libfido2's custom I/O (test/interop/libfido2-udp.c), built here with cc + pkg-config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService, runs } from '../helpers/services.ts';
import { spawnSimulator, type SimulatorProcess, parseSteps } from '../interop/spawn-simulator.ts';
import { buildLibfido2Harness } from '../interop/build-libfido2-harness.ts';

const run = promisify(execFile);
const gate = await requireService('libfido2 + cc', async () => (await runs('pkg-config', ['--exists', 'libfido2'])()) ?? runs('cc', ['--version'])());

// libfido2 picks PIN protocol 2 when offered, else 1: both get exercised.
describe.skipIf(gate.skip).each([
  { profile: 'yubikey-5-nfc-5.7', protocols: [2, 1] },
  { profile: 'yubikey-5-nfc-pin1', protocols: [1] },
])('libfido2 against keytap simulate --udp --profile $profile', (c) => {
  let sim: SimulatorProcess;
  let dir: string;
  let bin: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keytap-libfido2-'));
    [bin, sim] = await Promise.all([buildLibfido2Harness(dir), spawnSimulator(['--profile', c.profile])]);
  });
  afterAll(async () => {
    const code = await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it('opens (INIT + getInfo), reads retries, sets and changes the PIN, sees PIN_INVALID with retries and PIN_AUTH_BLOCKED after 3 (fido.md §5)', async () => {
    const { stdout } = await run(bin, [sim.host, String(sim.port), 'scenario'], { timeout: 20_000 });
    const steps = parseSteps(stdout);
    expect(steps.getInfo).toMatchObject({ status: 0, fido2: true, protocols: c.protocols });
    expect(steps['getPINRetries-no-pin'].retriesStatus).toBe(0x35); // FIDO_ERR_PIN_NOT_SET
    expect(steps.setPIN).toMatchObject({ status: 0, retries: 8 });
    expect(steps.changePIN).toMatchObject({ status: 0, retries: 8 });
    expect(steps['wrong-pin-1']).toMatchObject({ name: 'FIDO_ERR_PIN_INVALID', retries: 7 });
    expect(steps['wrong-pin-2']).toMatchObject({ name: 'FIDO_ERR_PIN_INVALID', retries: 6 });
    expect(steps['wrong-pin-3']).toMatchObject({ name: 'FIDO_ERR_PIN_AUTH_BLOCKED', retries: 5 });
    expect(steps['right-pin-while-soft-blocked']).toMatchObject({ name: 'FIDO_ERR_PIN_AUTH_BLOCKED', retries: 5 });
  });

  it('makes a resident ES256 credential with the PIN (libfido2 verifies the packed self attestation) and asserts with it (signature verified, UP+UV)', async () => {
    // The scenario left the key soft-blocked with PIN 56789: SIGUSR1 power-cycles it (the HIL contract).
    sim.child.kill('SIGUSR1');
    for (let i = 0; i < 100 && !sim.stderr().includes('power cycle'); i++) await new Promise((r) => setTimeout(r, 20));
    const { stdout } = await run(bin, [sim.host, String(sim.port), 'credential', '56789'], { timeout: 20_000 });
    const steps = parseSteps(stdout);
    expect(steps.makeCredential).toMatchObject({ status: 0, fmt: 'packed' });
    expect(steps.verifySelfAttestation.status).toBe(0);
    expect(steps.getAssertion).toMatchObject({ status: 0, verify: 0, flags: 0x05 });
    expect(steps.getAssertion.sigcount).toBeGreaterThan(0);
  });
});
