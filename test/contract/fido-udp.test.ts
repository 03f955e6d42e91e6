/** The FIDO contract over real UDP sockets against `keytap simulate --udp 127.0.0.1:0` in a child process. */
import { fidoContract, type ContractTarget } from './fido-contract.ts';
import { spawnSimulator } from '../interop/spawn-simulator.ts';
import { openFidoDevice } from '../../src/fido/open-device.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';

fidoContract('simulator over UDP (keytap simulate --udp)', async (): Promise<ContractTarget> => {
  const sim = await spawnSimulator();
  const address = `udp://${sim.host}:${sim.port}`;
  return {
    open: async () => new FidoClient(await openFidoDevice(address)),
    powerCycle: async () => {
      const seen = (sim.stderr().match(/power cycle/g) ?? []).length;
      sim.child.kill('SIGUSR1');
      for (let i = 0; i < 200 && (sim.stderr().match(/power cycle/g) ?? []).length === seen; i++) await new Promise((r) => setTimeout(r, 10));
    },
    close: async () => void (await sim.stop()),
  };
});
