/**
 * The CLI over a running agent (`keytap serve`), through the client SDK: the same `CliBackend`
 * as direct mode, so commands print the same results and exit codes. `AutoBackend` picks the
 * agent when one answers on its unix socket (or `KEYTAP_URL`), else direct mode, and says which
 * with `--verbose`. Through the agent, CLI requests queue behind other clients' on the same key
 * instead of interleaving with them.
 */
import { join } from 'node:path';
import type { CliBackend, CliCallOptions, CliDevice } from './backend.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import type { Pin } from '../protocol/secret.ts';
import { KeytapError } from '../protocol/errors.ts';
import { KeytapClient } from '../client/keytap-client.ts';
import { defaultRuntimeDir } from '../agent/config.ts';
import { SOCKET_NAME, TOKEN_FILE_NAME } from '../api/constants.ts';
import type { DeviceDescriptor } from '../api/types.ts';
import { fromBase64Url, toHex } from '../util/bytes.ts';

const pinText = (p: Pin): string => new TextDecoder().decode(p.exposeSecret());

/** How to reach the agent: `KEYTAP_URL` (+ `KEYTAP_TOKEN_FILE`), else the unix socket (`KEYTAP_SOCKET` or the default path). */
export function agentEndpoint(env: NodeJS.ProcessEnv = process.env): { url: string; tokenFile: string } | { socketPath: string } {
  if (env.KEYTAP_URL) return { url: env.KEYTAP_URL, tokenFile: env.KEYTAP_TOKEN_FILE ?? join(defaultRuntimeDir(env), TOKEN_FILE_NAME) };
  return { socketPath: env.KEYTAP_SOCKET || join(defaultRuntimeDir(env), SOCKET_NAME) };
}

/** A CliBackend over a connected SDK client. */
export class AgentBackend implements CliBackend {
  constructor(readonly client: KeytapClient) {}

  /** Connects to the agent; rejects with AGENT_UNAVAILABLE (or the refusal) when none answers. */
  static async connect(env: NodeJS.ProcessEnv = process.env, timeoutMs = 1500): Promise<AgentBackend> {
    const ep = agentEndpoint(env);
    const client = await KeytapClient.connect({ ...ep, ...('tokenFile' in ep ? { role: 'admin' as const } : {}), clientInfo: { name: 'keytap-cli' }, timeoutMs });
    return new AgentBackend(client);
  }

  async #authenticators(): Promise<DeviceDescriptor[]> {
    return (await this.client.devicesList()).devices.filter((d) => d.kind === 'authenticator');
  }

  /** Agent id, serial number or name → the agent's device id; undefined → the only key. */
  async #resolve(device: string | undefined): Promise<DeviceDescriptor> {
    const all = await this.#authenticators();
    if (device === undefined) {
      if (all.length === 1) return all[0];
      if (all.length === 0) throw new KeytapError('DEVICE_NOT_FOUND', 'no security key is attached to the agent: plug one in');
      throw new KeytapError('DEVICE_AMBIGUOUS', `${all.length} keys are attached: name one with --device (${all.map((d) => d.id).join(', ')})`);
    }
    const d = all.find((x) => x.id === device || x.serialNumber === device || x.name === device);
    if (!d) throw new KeytapError('DEVICE_NOT_FOUND', `the agent has no key "${device}": see \`keytap devices\``);
    return d;
  }

  async listDevices(): Promise<CliDevice[]> {
    return (await this.#authenticators()).map((d) => ({
      path: d.id,
      transport: (['usb', 'udp', 'nfc', 'virtual'].includes(d.transport) ? d.transport : 'virtual') as CliDevice['transport'],
      ...(d.vendorId !== undefined ? { vendorId: d.vendorId } : {}),
      ...(d.productId !== undefined ? { productId: d.productId } : {}),
      product: d.name,
      ...(d.serialNumber !== undefined ? { serialNumber: d.serialNumber } : {}),
    }));
  }

  async info(device: string | undefined, o: CliCallOptions = {}): Promise<Record<string, unknown>> {
    const info = await this.client.fidoInfo((await this.#resolve(device)).id, o);
    // Direct mode prints byte strings in hex; the API carries base64url.
    if (typeof info.aaguid === 'string') info.aaguid = toHex(fromBase64Url(info.aaguid));
    return info;
  }

  async pinStatus(device: string | undefined, o: CliCallOptions = {}): Promise<PinStatus> {
    return this.client.pinStatus((await this.#resolve(device)).id, o);
  }

  async setPin(device: string | undefined, newPin: Pin, o: CliCallOptions = {}): Promise<PinStatus> {
    return this.client.setPin((await this.#resolve(device)).id, pinText(newPin), o);
  }

  async changePin(device: string | undefined, current: Pin, next: Pin, o: CliCallOptions & { confirmLastAttempt?: boolean } = {}): Promise<PinStatus> {
    return this.client.changePin((await this.#resolve(device)).id, pinText(current), pinText(next), o);
  }

  async verifyPin(device: string | undefined, pin: Pin, o: CliCallOptions & { confirmLastAttempt?: boolean } = {}): Promise<PinStatus> {
    return this.client.verifyPin((await this.#resolve(device)).id, pinText(pin), o);
  }

  /**
   * Guided for USB keys (default): the agent asks for the key to be removed and inserted again
   * (progress remove-key / insert-key), checks it is the same key, and resets at once inside the
   * power-up window.
   */
  async reset(device: string | undefined, o: CliCallOptions & { guided?: boolean } = {}): Promise<PinStatus> {
    const d = await this.#resolve(device);
    const guided = o.guided !== false && d.transport === 'usb';
    return this.client.request('fido.reset', { device: d.id, timeoutMs: guided ? 120_000 : 60_000, ...(guided ? { guided: true } : {}) }, o);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/**
 * Agent first, else direct mode. A selector only direct mode understands (`udp://…`, a `/dev/`
 * path) goes straight to direct mode. `report` receives one line saying which mode was used
 * (printed with `--verbose`).
 */
export class AutoBackend implements CliBackend {
  #chosen: Promise<CliBackend> | null = null;

  constructor(
    readonly options: { direct: () => CliBackend; report?: (line: string) => void; env?: NodeJS.ProcessEnv; connect?: () => Promise<CliBackend> },
  ) {}

  #backend(device?: string): Promise<CliBackend> {
    if (this.#chosen) return this.#chosen;
    const env = this.options.env ?? process.env;
    this.#chosen = (async () => {
      if (device !== undefined && (device.startsWith('udp://') || device.startsWith('/dev/'))) {
        this.options.report?.(`keytap: direct mode (--device ${device} is a direct-mode address)`);
        return this.options.direct();
      }
      try {
        const b = await (this.options.connect ?? (() => AgentBackend.connect(env)))();
        const ep = agentEndpoint(env);
        this.options.report?.(`keytap: using the agent at ${'socketPath' in ep ? ep.socketPath : ep.url}`);
        return b;
      } catch (e) {
        this.options.report?.(`keytap: no agent answered (${e instanceof Error ? e.message : String(e)}); direct mode`);
        return this.options.direct();
      }
    })();
    return this.#chosen;
  }

  async listDevices(o?: CliCallOptions): Promise<CliDevice[]> {
    return (await this.#backend()).listDevices(o);
  }
  async info(device: string | undefined, o?: CliCallOptions): Promise<Record<string, unknown>> {
    return (await this.#backend(device)).info(device, o);
  }
  async pinStatus(device: string | undefined, o?: CliCallOptions): Promise<PinStatus> {
    return (await this.#backend(device)).pinStatus(device, o);
  }
  async setPin(device: string | undefined, newPin: Pin, o?: CliCallOptions): Promise<PinStatus> {
    return (await this.#backend(device)).setPin(device, newPin, o);
  }
  async changePin(device: string | undefined, current: Pin, next: Pin, o?: CliCallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus> {
    return (await this.#backend(device)).changePin(device, current, next, o);
  }
  async verifyPin(device: string | undefined, pin: Pin, o?: CliCallOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus> {
    return (await this.#backend(device)).verifyPin(device, pin, o);
  }
  async reset(device: string | undefined, o?: CliCallOptions & { guided?: boolean }): Promise<PinStatus> {
    return (await this.#backend(device)).reset(device, o);
  }
  async close(): Promise<void> {
    if (this.#chosen) await (await this.#chosen).close();
  }
}
