/**
 * `keytap simulate` initial-PIN and state options (docs/simulator.md): --pin-stdin, the --pin
 * argv warning (the PIN itself never printed), --state across restarts. Driven by keytap's own
 * host stack (UDP HidConnection + CtapHidTransport, the shared codecs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { UdpHidConnection } from '../../src/drivers/udp/udp-hid-connection.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { CtapHidCmd } from '../../src/protocol/ctaphid/constants.ts';
import { TestHost } from '../unit/sim/helpers/host.ts';
import { spawnSimulator, type SimulatorProcess } from '../interop/spawn-simulator.ts';

async function connect(sim: SimulatorProcess): Promise<{ host: TestHost; transport: CtapHidTransport }> {
  const conn = await UdpHidConnection.open(`udp://${sim.host}:${sim.port}`);
  const transport = await CtapHidTransport.open(conn, { kind: 'udp', descriptor: `udp://${sim.host}:${sim.port}` });
  return { transport, host: new TestHost((req) => transport.exchange(CtapHidCmd.CBOR, req), 2) };
}

describe('keytap simulate --udp: initial PIN and state options', () => {
  const running: SimulatorProcess[] = [];
  const transports: CtapHidTransport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  it('--pin-stdin reads the initial PIN from stdin; --pin works but warns that argv is visible', async () => {
    const viaStdin = await spawnSimulator(['--pin-stdin'], { stdin: '24681357\n' });
    running.push(viaStdin);
    const a = await connect(viaStdin);
    transports.push(a.transport);
    expect((await a.host.getInfo()).options?.clientPin).toBe(true);
    expect((await a.host.token('24681357')).status).toBe(0);
    const viaArgv = await spawnSimulator(['--pin', '97531864']);
    running.push(viaArgv);
    expect(viaArgv.stderr()).toMatch(/warning: --pin is visible/);
    expect(viaArgv.stderr()).not.toContain('97531864');
  });


  it('--state keeps the key across restarts (PIN and retries persist; the soft block does not)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-sim-state-'));
    try {
      const state = join(dir, 'key.json');
      const first = await spawnSimulator(['--state', state], { env: { KEYTAP_SIM_PIN: '123456' } });
      let c = await connect(first);
      for (let i = 0; i < 3; i++) await c.host.token('000000');
      await c.transport.close();
      expect(await first.stop()).toBe(0);
      const second = await spawnSimulator(['--state', state], { env: { KEYTAP_SIM_PIN: '654321' } });
      running.push(second);
      expect(second.stderr()).toContain('initial PIN option is ignored');
      c = await connect(second);
      transports.push(c.transport);
      expect(await c.host.retries()).toEqual({ pinRetries: 5, powerCycleState: false });
      expect((await c.host.token('123456')).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

});
