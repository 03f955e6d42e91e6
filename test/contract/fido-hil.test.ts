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
import { HidDeviceSource } from '../../src/drivers/hid/hid-device-source.ts';

const device = process.env.KEYTAP_HIL_DEVICE;
const destructive = process.env.KEYTAP_HIL_DESTRUCTIVE === '1';

async function waitForReinsertion(): Promise<void> {
  const src = new HidDeviceSource({ intervalMs: 250 });
  process.stderr.write('[keytap HIL] remove the key now, then insert it again\n');
  try {
    await new Promise<void>((resolve, reject) => {
      let removed = false;
      const timer = setTimeout(() => reject(new Error('key was not re-inserted within 60 s')), 60_000);
      const stop = src.watch((e) => {
        if (e.type === 'detached') removed = true;
        if (e.type === 'attached' && removed) {
          clearTimeout(timer);
          stop();
          resolve();
        }
      });
    });
  } finally {
    await src.close();
  }
}

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
