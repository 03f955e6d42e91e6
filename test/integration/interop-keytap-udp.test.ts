/**
 * The `keytap simulate --udp` contract HIL scripts rely on (docs/simulator.md), driven by
 * keytap's own host stack (H3's UDP HidConnection + CtapHidTransport, H1's codecs):
 * the `listening udp HOST:PORT` line, SIGUSR1 power cycle, SIGTERM exit 0, loopback only,
 * KEYTAP_SIM_PIN, --touch-delay, --list-profiles. (PIN and state options: interop-keytap-udp-options.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { UdpHidConnection } from '../../src/drivers/udp/udp-hid-connection.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../../src/protocol/ctaphid/constants.ts';
import { CtapStatus } from '../../src/protocol/ctap2/status.ts';
import { PinUvAuthPermission } from '../../src/protocol/ctap2/client-pin.ts';
import { Selection } from '../../src/protocol/ctap2/selection.ts';
import { frameRequest } from '../../src/protocol/ctap2/frame.ts';
import { TestHost } from '../unit/sim/helpers/host.ts';
import { repoRoot, spawnSimulator, type SimulatorProcess } from '../interop/spawn-simulator.ts';

const run = promisify(execFile);

async function connect(sim: SimulatorProcess): Promise<{ host: TestHost; transport: CtapHidTransport }> {
  const conn = await UdpHidConnection.open(`udp://${sim.host}:${sim.port}`);
  const transport = await CtapHidTransport.open(conn, { kind: 'udp', descriptor: `udp://${sim.host}:${sim.port}` });
  return { transport, host: new TestHost((req) => transport.exchange(CtapHidCmd.CBOR, req), 2) };
}

describe('keytap simulate --udp (the HIL contract)', () => {
  const running: SimulatorProcess[] = [];
  const transports: CtapHidTransport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  it('prints the real port for port 0, serves getInfo, takes the PIN from KEYTAP_SIM_PIN and exits 0 on SIGTERM', async () => {
    const sim = await spawnSimulator(['--profile', 'token2-t2f2'], { env: { KEYTAP_SIM_PIN: '123456' } });
    expect(sim.port).toBeGreaterThan(0);
    const { host, transport } = await connect(sim);
    transports.push(transport);
    const info = await host.getInfo();
    expect(info.options?.clientPin).toBe(true);
    expect(info.maxMsgSize).toBe(1536); // the Token2 capture
    expect(sim.stderr()).not.toContain('123456'); // nothing about PINs is printed
    await transport.close();
    expect(await sim.stop()).toBe(0);
  });

  it('SIGUSR1 power-cycles the key: the soft block is gone, the retry counter is not (fido.md §5 steps 3-6)', async () => {
    const sim = await spawnSimulator(['--touch', 'deny'], { env: { KEYTAP_SIM_PIN: '123456' } });
    running.push(sim);
    let { host, transport } = await connect(sim);
    for (let i = 0; i < 3; i++) await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com');
    expect(await host.retries()).toEqual({ pinRetries: 5, powerCycleState: true });
    await transport.close();
    sim.child.kill('SIGUSR1');
    // A power cycle drops CTAPHID channels too: wait until the simulator said so, then re-INIT.
    for (let i = 0; i < 100 && !sim.stderr().includes('power cycle'); i++) await new Promise((r) => setTimeout(r, 20));
    ({ host, transport } = await connect(sim));
    transports.push(transport);
    expect(await host.retries()).toEqual({ pinRetries: 5, powerCycleState: false });
    expect((await host.token('000000', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(CtapStatus.PIN_INVALID);
    expect((await host.retries()).pinRetries).toBe(4);
    expect((await host.token('123456', PinUvAuthPermission.getAssertion, 'example.com')).status).toBe(0);
    expect((await host.retries()).pinRetries).toBe(8);
  });

  it('--touch-delay: the host sees UPNEEDED keepalives until the virtual user touches (CTAP 2.1 §11.2.9.1.5)', async () => {
    const sim = await spawnSimulator(['--touch-delay', '300']);
    running.push(sim);
    const { transport } = await connect(sim);
    transports.push(transport);
    const seen: string[] = [];
    const reply = await transport.exchange(CtapHidCmd.CBOR, frameRequest(Selection, undefined), { onKeepalive: (s) => seen.push(s) });
    expect([...reply]).toEqual([0]);
    expect(seen).toContain('up-needed');
  });

  it('refuses a non-loopback address without --allow-remote (exit 64) and lists profiles', async () => {
    const bin = join(repoRoot, 'bin', 'keytap.js');
    const refused = await run(process.execPath, [bin, 'simulate', '--udp', '192.0.2.1:0']).catch((e) => e);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('--allow-remote');
    const { stdout } = await run(process.execPath, [bin, 'simulate', '--list-profiles']);
    for (const n of ['yubikey-5-nfc-5.7', 'yubikey-5-nfc-pin1', 'security-key-nfc-5.4.3', 'nitrokey-fido2', 'token2-t2f2', 'solo-1']) expect(stdout).toContain(n);
  });
});
