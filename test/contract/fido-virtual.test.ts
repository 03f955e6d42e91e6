/** The FIDO contract against the in-process virtual authenticator (src/sim) over CtapHidTransport. */
import { fidoContract, type ContractTarget } from './fido-contract.ts';
import { VirtualAuthenticator } from '../../src/sim/authenticator/virtual-authenticator.ts';
import { VirtualHidDevice } from '../../src/sim/virtual-hid.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';

fidoContract('virtual authenticator in-process', async (): Promise<ContractTarget> => {
  const auth = new VirtualAuthenticator();
  const dev = new VirtualHidDevice(auth);
  return {
    open: async () => new FidoClient(await CtapHidTransport.open(dev.open(), { kind: 'virtual', descriptor: dev.info.path })),
    powerCycle: async () => {
      dev.unplug();
      auth.powerCycle();
      dev.plug();
    },
    close: async () => {},
  };
});
