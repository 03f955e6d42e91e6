/**
 * A virtual key for agent tests: the real VirtualAuthenticator behind the real in-memory
 * CTAPHID device, opened through the real CtapHidTransport, so every byte path is the
 * production one. A gate can hold the key inside a chosen CTAP command (it then waits like a
 * key waiting for a touch) and counts the CTAPHID_CANCELs the key received.
 */
import { VirtualHidDevice } from '../../../src/sim/virtual-hid.ts';
import { VirtualAuthenticator } from '../../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv, TouchController } from '../../../src/sim/env.ts';
import { loadProfile } from '../../../src/sim/profiles.ts';
import type { CborHandler } from '../../../src/sim/ctaphid-device.ts';
import { CtapHidTransport } from '../../../src/fido/ctap-hid-transport.ts';
import { decodeCbor } from '../../../src/protocol/cbor.ts';
import type { AuthenticatorDevice, AuthenticatorProvider, ProviderEvent } from '../../../src/agent/providers.ts';

/** Which CTAP command to hold: `clientPin:<subcommand>` or a command byte. */
export type HoldMatch = (request: Uint8Array) => boolean;
export const isChangePin: HoldMatch = (r) => r[0] === 0x06 && (decodeCbor(r.subarray(1)) as Map<number, unknown>).get(2) === 4;

export class SimKey implements CborHandler {
  readonly touch = new TouchController('auto');
  readonly authenticator: VirtualAuthenticator;
  readonly hid: VirtualHidDevice;
  /** CTAPHID_CANCELs that reached a held command. */
  cancels = 0;
  held = 0;
  hold: HoldMatch | null = null;
  commands: number[] = [];

  constructor(readonly key: string, profile = 'yubikey-5-nfc-5.7') {
    this.authenticator = new VirtualAuthenticator({ profile: loadProfile(profile), env: createSimEnv({ touch: this.touch }) });
    this.hid = new VirtualHidDevice(this, { info: { path: `virtual://test/${key}`, serialNumber: key } });
  }

  async handleCbor(request: Uint8Array, options: { signal: AbortSignal; onKeepalive: (s: 1 | 2) => void }): Promise<Uint8Array> {
    this.commands.push(request[0]);
    if (this.hold?.(request)) {
      this.held++;
      options.onKeepalive(2);
      await new Promise<void>((resolve) => {
        options.signal.addEventListener(
          'abort',
          () => {
            this.cancels++;
            resolve();
          },
          { once: true },
        );
      });
      this.held--;
      return new Uint8Array([0x2d]); // CTAP2_ERR_KEEPALIVE_CANCEL
    }
    return this.authenticator.handleCbor(request, options);
  }

  device(): AuthenticatorDevice {
    return {
      kind: 'authenticator',
      key: this.key,
      name: `Sim ${this.key}`,
      transport: 'virtual',
      simulated: true,
      open: (signal) => CtapHidTransport.open(this.hid.open(), { kind: 'virtual', descriptor: this.hid.info.path, ...(signal ? { signal } : {}) }),
    };
  }
}

export class SimKeyProvider implements AuthenticatorProvider {
  readonly name = 'simtest';
  readonly #listeners = new Set<(e: ProviderEvent<AuthenticatorDevice>) => void>();
  constructor(readonly keys: SimKey[]) {}
  async list(): Promise<AuthenticatorDevice[]> {
    return this.keys.filter((k) => k.hid.plugged).map((k) => k.device());
  }
  watch(l: (e: ProviderEvent<AuthenticatorDevice>) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  unplug(k: SimKey): void {
    k.hid.unplug();
    for (const l of this.#listeners) l({ type: 'detached', device: k.device() });
  }
  plug(k: SimKey): void {
    k.authenticator.powerCycle();
    k.hid.plug();
    for (const l of this.#listeners) l({ type: 'attached', device: k.device() });
  }
  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
