/**
 * A minimal CTAP2 host for driving the VirtualAuthenticator in tests: H1's command codecs
 * (frameRequest/parseResponse, ClientPin) and the PIN/UV auth protocols, so every request the
 * simulator sees was produced by the same codec the real host uses.
 */
import { createHash } from 'node:crypto';
import { frameRequest, parseResponse } from '../../../../src/protocol/ctap2/frame.ts';
import { ClientPin, ClientPinSubcommand, type ClientPinRequest, type ClientPinResponse } from '../../../../src/protocol/ctap2/client-pin.ts';
import { GetInfo, type AuthenticatorInfo } from '../../../../src/protocol/ctap2/get-info.ts';
import { CtapError } from '../../../../src/protocol/ctap2/status.ts';
import type { CtapCommand } from '../../../../src/protocol/ctap2/command.ts';
import type { CoseEc2PublicKey } from '../../../../src/protocol/cose.ts';
import { concatBytes } from '../../../../src/util/bytes.ts';
import { pinProtocol, type PinUvAuthProtocol } from '../../../../src/protocol/pin/pin-protocol.ts';
import type { SecretBytes } from '../../../../src/protocol/secret.ts';
import type { VirtualAuthenticator } from '../../../../src/sim/authenticator/virtual-authenticator.ts';

/** Where requests go: the authenticator in-process, or any `command ‖ params → status ‖ body` exchange. */
export type Target = VirtualAuthenticator | ((request: Uint8Array) => Promise<Uint8Array>);

export class TestHost {
  constructor(
    readonly target: Target,
    readonly protocol: 1 | 2 = 2,
  ) {}

  get pp(): PinUvAuthProtocol {
    return pinProtocol(this.protocol);
  }

  /** Sends one command through the codecs; resolves with the decoded response or throws CtapError. */
  async call<Req, Res>(cmd: CtapCommand<Req, Res>, req: Req, options?: { signal?: AbortSignal; onKeepalive?: (s: 1 | 2) => void }): Promise<Res> {
    const t = this.target;
    const reply = typeof t === 'function' ? await t(frameRequest(cmd, req)) : await t.handle(frameRequest(cmd, req), options);
    return parseResponse(cmd, reply);
  }

  /** The status byte of a call (0 on success). */
  async status<Req, Res>(cmd: CtapCommand<Req, Res>, req: Req, options?: { signal?: AbortSignal }): Promise<number> {
    try {
      await this.call(cmd, req, options);
      return 0;
    } catch (e) {
      if (e instanceof CtapError) return e.status;
      throw e;
    }
  }

  getInfo(): Promise<AuthenticatorInfo> {
    return this.call(GetInfo, undefined);
  }

  clientPin(req: Omit<ClientPinRequest, 'pinUvAuthProtocol'> & { pinUvAuthProtocol?: number }): Promise<ClientPinResponse> {
    return this.call(ClientPin, { pinUvAuthProtocol: this.protocol, ...req });
  }

  async retries(): Promise<ClientPinResponse> {
    return this.call(ClientPin, { subCommand: ClientPinSubcommand.getPINRetries });
  }

  /** getKeyAgreement + ECDH: the platform key to send and the shared secret. */
  async agree(): Promise<{ platformKey: CoseEc2PublicKey; shared: SecretBytes }> {
    const r = await this.clientPin({ subCommand: ClientPinSubcommand.getKeyAgreement });
    const e = this.pp.encapsulate(r.keyAgreement!);
    return { platformKey: e.keyAgreement, shared: e.sharedSecret };
  }

  async setPin(pin: string): Promise<number> {
    const { platformKey, shared } = await this.agree();
    const newPinEnc = this.pp.encrypt(shared, pad64(pin));
    return this.status(ClientPin, {
      pinUvAuthProtocol: this.protocol,
      subCommand: ClientPinSubcommand.setPIN,
      keyAgreement: platformKey,
      newPinEnc,
      pinUvAuthParam: this.pp.authenticate(shared, newPinEnc),
    });
  }

  async changePin(current: string, next: string): Promise<number> {
    const { platformKey, shared } = await this.agree();
    const newPinEnc = this.pp.encrypt(shared, pad64(next));
    const pinHashEnc = this.pp.encrypt(shared, pinHash(current));
    return this.status(ClientPin, {
      pinUvAuthProtocol: this.protocol,
      subCommand: ClientPinSubcommand.changePIN,
      keyAgreement: platformKey,
      newPinEnc,
      pinHashEnc,
      pinUvAuthParam: this.pp.authenticate(shared, concatBytes(newPinEnc, pinHashEnc)),
    });
  }

  /** A token request (0x09 with permissions, or legacy 0x05); returns the token or the status. */
  async token(pin: string, permissions?: number, rpId?: string): Promise<{ status: number; token?: Uint8Array }> {
    const { platformKey, shared } = await this.agree();
    const req: ClientPinRequest = {
      pinUvAuthProtocol: this.protocol,
      subCommand: permissions === undefined ? ClientPinSubcommand.getPinToken : ClientPinSubcommand.getPinUvAuthTokenUsingPinWithPermissions,
      keyAgreement: platformKey,
      pinHashEnc: this.pp.encrypt(shared, pinHash(pin)),
      ...(permissions !== undefined ? { permissions } : {}),
      ...(rpId !== undefined ? { rpId } : {}),
    };
    try {
      const r = await this.call(ClientPin, req);
      return { status: 0, token: this.pp.decrypt(shared, r.pinUvAuthToken!).exposeSecret() };
    } catch (e) {
      if (e instanceof CtapError) return { status: e.status };
      throw e;
    }
  }
}

export function pad64(pin: string | Uint8Array): Uint8Array {
  const b = typeof pin === 'string' ? new TextEncoder().encode(pin) : pin;
  const out = new Uint8Array(64);
  out.set(b.subarray(0, 64));
  return out;
}

export function pinHash(pin: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(pin, 'utf8').digest()).slice(0, 16);
}
