/**
 * The device registry over all providers (DESIGN.md §1 "discovery"): current devices first,
 * then hotplug; public ids are derived from the provider name and the device's stable key
 * (never an OS path), so a key keeps its id across replug where the hardware gives a serial.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { DeviceDescriptor } from '../api/types.ts';
import type { AuthenticatorDevice, DeviceProvider, ReaderDevice, ReaderProvider, CardEvent, ProviderEvent } from './providers.ts';

type AnyDevice = AuthenticatorDevice | ReaderDevice;

interface Entry {
  id: string;
  provider: string;
  device: AnyDevice;
}

export interface RegistryEvents {
  attached: [DeviceDescriptor];
  detached: [DeviceDescriptor];
  changed: [DeviceDescriptor];
  card: [{ type: CardEvent['type']; reader: string; card: CardEvent['card'] }];
}

/** `fido-<12 hex>` / `reader-<12 hex>` from the provider name and the device key. */
export function deviceIdFor(kind: AnyDevice['kind'], provider: string, key: string): string {
  const h = createHash('sha256').update(`${provider}\0${key}`).digest('hex').slice(0, 12);
  return `${kind === 'authenticator' ? 'fido' : 'reader'}-${h}`;
}

export class DeviceRegistry extends EventEmitter<RegistryEvents> {
  readonly #entries = new Map<string, Entry>();
  readonly #providers: Array<{ provider: DeviceProvider<AnyDevice>; stop: Array<() => void> }> = [];

  /** Adds a provider: subscribes first, then lists (events during the listing are applied idempotently). */
  async addProvider(provider: DeviceProvider<AuthenticatorDevice> | ReaderProvider): Promise<void> {
    const p = provider as DeviceProvider<AnyDevice>;
    const stop: Array<() => void> = [];
    stop.push(p.watch((e) => this.#apply(p.name, e)));
    if ('watchCards' in provider) {
      stop.push(
        provider.watchCards((e) => {
          const reader = deviceIdFor('reader', p.name, e.readerKey);
          this.emit('card', { type: e.type, reader, card: e.card });
        }),
      );
    }
    this.#providers.push({ provider: p, stop });
    for (const d of await p.list()) this.#apply(p.name, { type: 'attached', device: d });
  }

  #apply(providerName: string, e: ProviderEvent<AnyDevice>): void {
    const id = deviceIdFor(e.device.kind, providerName, e.device.key);
    const had = this.#entries.get(id);
    if (e.type === 'detached') {
      if (!had) return;
      this.#entries.delete(id);
      this.emit('detached', describe(had));
      return;
    }
    const entry = { id, provider: providerName, device: e.device };
    this.#entries.set(id, entry);
    if (!had) this.emit('attached', describe(entry));
    // Sources may re-announce a present device (a watch that replays, a list after a watch): only a real change is news.
    else if (JSON.stringify(describe(had)) !== JSON.stringify(describe(entry))) this.emit('changed', describe(entry));
  }

  list(): DeviceDescriptor[] {
    return [...this.#entries.values()].map(describe);
  }

  get(id: string): DeviceDescriptor | undefined {
    const e = this.#entries.get(id);
    return e ? describe(e) : undefined;
  }

  authenticator(id: string): AuthenticatorDevice | undefined {
    const e = this.#entries.get(id);
    return e?.device.kind === 'authenticator' ? e.device : undefined;
  }

  reader(id: string): ReaderDevice | undefined {
    const e = this.#entries.get(id);
    return e?.device.kind === 'reader' ? e.device : undefined;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    for (const { provider, stop } of this.#providers.splice(0)) {
      for (const s of stop) s();
      await provider.close();
    }
    this.#entries.clear();
  }
}

function describe(e: Entry): DeviceDescriptor {
  const d = e.device;
  const out: DeviceDescriptor = { ...(d.extra ?? {}), id: e.id, kind: d.kind, transport: d.transport, name: d.name };
  if (d.simulated !== undefined) out.simulated = d.simulated;
  if (d.vendorId !== undefined) out.vendorId = d.vendorId;
  if (d.productId !== undefined) out.productId = d.productId;
  if (d.serialNumber !== undefined) out.serialNumber = d.serialNumber;
  return out;
}
