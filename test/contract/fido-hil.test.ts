/**
 * The FIDO contract against a real key: set KEYTAP_HIL_DEVICE to a HID path, a serial number
 * or udp://HOST:PORT. Read-only unless KEYTAP_HIL_DESTRUCTIVE=1 (the destructive run RESETS the
 * key: every credential on it is erased). Power cycles run KEYTAP_HIL_POWER_CYCLE_CMD when set
 * (a USB power switch on a bench), else ask the technician to re-insert the key and wait for it.
 */
import { execSync } from 'node:child_process';
import { fidoContract, type ContractTarget } from './fido-contract.ts';
import { openFidoDevice } from '../../src/fido/open-device.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';
import { waitForReinsertion } from '../hil/hil-target.ts';

const device = process.env.KEYTAP_HIL_DEVICE;
const destructive = process.env.KEYTAP_HIL_DESTRUCTIVE === '1';

fidoContract(
  `real key ${device ?? '(KEYTAP_HIL_DEVICE unset)'}`,
  async (): Promise<ContractTarget> => ({
    open: async () => new FidoClient(await openFidoDevice(device)),
    powerCycle: async () => {
      const cmd = process.env.KEYTAP_HIL_POWER_CYCLE_CMD;
      if (cmd) execSync(cmd, { stdio: 'inherit' });
      else await waitForReinsertion();
    },
    close: async () => {},
  }),
  { skip: !device, destructive },
);
