/**
 * The HIL target: the simulator (default) or a real key/reader named by KEYTAP_HIL_DEVICE.
 *
 *   KEYTAP_HIL_DEVICE           unset: `keytap simulate --udp 127.0.0.1:0` in a child process;
 *                               else a hidraw path, a serial number, udp://HOST:PORT, or
 *                               pcsc:READER (a key on a PC/SC reader: CTAP over NFC)
 *   KEYTAP_HIL_PIN              the real key's current PIN (read-only PIN steps verify it)
 *   KEYTAP_HIL_DESTRUCTIVE=1    allow set PIN / reset on a real key (ERASES its credentials)
 *   KEYTAP_HIL_POWER_CYCLE_CMD  a command that power-cycles the key (USB switch); else re-insert by hand
 *   KEYTAP_HIL_POWER_CYCLE_SETTLE_MS  wait after that command (default 1000)
 *   KEYTAP_HIL_RECORD_DIR       write the traces the suite records there (new fixtures)
 */
import { execSync } from 'node:child_process';
import type { HidConnection } from '../../src/drivers/hid-connection.ts';
import { UdpHidConnection } from '../../src/drivers/udp/udp-hid-connection.ts';
import { resolveFidoDevice } from '../../src/fido/open-device.ts';
import { CtapHidTransport } from '../../src/fido/ctap-hid-transport.ts';
import { FidoClient } from '../../src/fido/fido-client.ts';
import { spawnSimulator, type SimulatorProcess } from '../interop/spawn-simulator.ts';
import type { ContractTarget } from '../contract/fido-contract.ts';
import type { CtapTransport } from '../../src/fido/ctap-transport.ts';

export const hil = {
  device: process.env.KEYTAP_HIL_DEVICE || undefined,
  pin: process.env.KEYTAP_HIL_PIN || undefined,
  destructiveAllowed: process.env.KEYTAP_HIL_DESTRUCTIVE === '1',
  recordDir: process.env.KEYTAP_HIL_RECORD_DIR || undefined,
};

/** True when the target is real hardware (the simulator is always safe to reset). */
export const onHardware = hil.device !== undefined;
/** Destructive steps run on the simulator always, on hardware only with KEYTAP_HIL_DESTRUCTIVE=1. */
export const destructive = !onHardware || hil.destructiveAllowed;

if (onHardware && hil.destructiveAllowed) {
  process.stderr.write(
    `\n[keytap HIL] WARNING: KEYTAP_HIL_DESTRUCTIVE=1 — the suite will RESET ${hil.device}: its PIN and EVERY credential on it will be erased.\n` +
      '[keytap HIL] Use a spare test key. Press Ctrl-C within the first touch prompt to stop.\n\n',
  );
}

/** A target with raw connections too (for the recorder). */
export interface HilTarget extends ContractTarget {
  /** What the traces' header names. */
  description: string;
  transport: 'hid' | 'udp' | 'pcsc';
  /** HID/UDP: a raw connection to the key (the suite records its reports). */
  connect?(): Promise<HidConnection>;
  /** PC/SC: a CTAP transport for one transaction (the suite records its messages). */
  openTransport?(): Promise<CtapTransport>;
}

/** A key on a PC/SC reader: one pcscd monitor, one card connection per transaction. */
async function openPcscTarget(selector: string): Promise<HilTarget> {
  const { PcscMonitor } = await import('../../src/drivers/pcsc/pcsc-monitor.ts');
  const { CtapNfcTransport } = await import('../../src/fido/nfc-transport.ts');
  const reader = selector.slice('pcsc:'.length);
  const monitor = new PcscMonitor();
  monitor.start();
  const cardIn = async (): Promise<void> => {
    for (let i = 0; i < 1000; i++) {
      if (monitor.list().some((r) => r.present && (!reader || r.name === reader))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no card on ${reader || 'any reader'} within 20 s: tap the key`);
  };
  const openTransport = async (): Promise<CtapTransport> => {
    await cardIn();
    const name = reader || monitor.list().find((r) => r.present)!.name;
    const conn = await monitor.connect(name);
    try {
      return await CtapNfcTransport.open(conn);
    } catch (e) {
      await conn.close();
      throw e;
    }
  };
  return {
    description: `key on PC/SC reader ${reader || '(first with a card)'}`,
    transport: 'pcsc',
    openTransport,
    open: async () => new FidoClient(await openTransport()),
    powerCycle: async () => {
      const cmd = process.env.KEYTAP_HIL_POWER_CYCLE_CMD;
      if (cmd) {
        execSync(cmd, { stdio: 'inherit' });
        await new Promise((r) => setTimeout(r, Number(process.env.KEYTAP_HIL_POWER_CYCLE_SETTLE_MS ?? 1000)));
      } else {
        process.stderr.write('[keytap HIL] take the key off the reader, then tap it again\n');
        for (let i = 0; i < 3000 && monitor.list().some((r) => r.present && (!reader || r.name === reader)); i++) await new Promise((r) => setTimeout(r, 20));
      }
      await cardIn();
    },
    close: () => monitor.close(),
  };
}

async function rawConnection(selector: string): Promise<{ conn: HidConnection; transport: 'hid' | 'udp' }> {
  const d = await resolveFidoDevice(selector);
  if (d.transport === 'udp') return { conn: await UdpHidConnection.open(d.path), transport: 'udp' };
  const { NodeHidConnection } = await import('../../src/drivers/hid/node-hid-connection.ts');
  return { conn: await NodeHidConnection.open(d.path), transport: 'hid' };
}

/** Asks the person at the bench to re-insert the key and waits for it (60 s): a real power cycle. */
export async function waitForReinsertion(): Promise<void> {
  const { HidDeviceSource } = await import('../../src/drivers/hid/hid-device-source.ts');
  const src = new HidDeviceSource({ intervalMs: 250 });
  process.stderr.write('[keytap HIL] remove the key now, then insert it again (60 s)\n');
  try {
    await new Promise<void>((resolve, reject) => {
      let removed = false;
      const timer = setTimeout(() => reject(new Error('the key was not re-inserted within 60 s')), 60_000);
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

/** Opens the target named by the environment. `simulatorArgs` go to `keytap simulate` (simulator only). */
export async function openHilTarget(options: { simulatorEnv?: NodeJS.ProcessEnv } = {}): Promise<HilTarget> {
  if (onHardware && hil.device!.startsWith('pcsc:')) return openPcscTarget(hil.device!);
  if (onHardware) {
    const selector = hil.device!;
    const probe = await rawConnection(selector);
    await probe.conn.close();
    return {
      description: `real key ${selector}`,
      transport: probe.transport,
      connect: async () => (await rawConnection(selector)).conn,
      open: async () => {
        const { conn, transport } = await rawConnection(selector);
        return new FidoClient(await CtapHidTransport.open(conn, { kind: transport === 'udp' ? 'udp' : 'usb', descriptor: selector }));
      },
      powerCycle: async () => {
        const cmd = process.env.KEYTAP_HIL_POWER_CYCLE_CMD;
        if (cmd) {
          execSync(cmd, { stdio: 'inherit' });
          // A key needs a moment to enumerate again after its power comes back.
          await new Promise((r) => setTimeout(r, Number(process.env.KEYTAP_HIL_POWER_CYCLE_SETTLE_MS ?? 1000)));
        } else await waitForReinsertion();
      },
      close: async () => undefined,
    };
  }
  const sim: SimulatorProcess = await spawnSimulator([], options.simulatorEnv ? { env: options.simulatorEnv } : {});
  const address = `udp://${sim.host}:${sim.port}`;
  return {
    description: `keytap simulate ${address}`,
    transport: 'udp',
    connect: () => UdpHidConnection.open(address),
    open: async () => new FidoClient(await CtapHidTransport.open(await UdpHidConnection.open(address), { kind: 'udp', descriptor: address })),
    powerCycle: async () => {
      // SIGUSR1 power-cycles the simulator; it confirms on stderr.
      const seen = (sim.stderr().match(/power cycle/g) ?? []).length;
      sim.child.kill('SIGUSR1');
      for (let i = 0; i < 400 && (sim.stderr().match(/power cycle/g) ?? []).length === seen; i++) await new Promise((r) => setTimeout(r, 10));
    },
    close: async () => void (await sim.stop()),
  };
}
