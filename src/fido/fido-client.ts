/**
 * The FIDO host client: CTAP2 over any `CtapTransport` (HID, NFC, UDP, virtual), with the PIN
 * flows and the PIN state model (DESIGN.md §3, fido.md §4-7, §10).
 *
 * PIN safety, in order:
 * - the state is read before any attempt: no PIN, soft-blocked or blocked → refused without
 *   spending an attempt; exactly one attempt left → `CONFIRMATION_REQUIRED` unless the caller
 *   confirmed;
 * - new PINs are checked with `validatePin` (device min/max, local policy, reuse) before
 *   anything is sent;
 * - an attempt is never retried automatically; after PIN_INVALID the retries are re-read and
 *   returned (`details.retriesLeft`); each attempt starts with a fresh getKeyAgreement, since
 *   the key regenerates its key-agreement key after a mismatch;
 * - after setPin/changePin the state is re-read and verified (clientPin true, retries back at
 *   the maximum, forcePINChange cleared) and returned.
 * `Pin` arguments are owned by the client from the call on: they are wiped when it returns.
 */
import type { CtapTransport, KeepaliveStatus } from './ctap-transport.ts';
import { CtapHidCapability, CtapHidCmd } from '../protocol/ctaphid/constants.ts';
import { frameRequest } from '../protocol/ctap2/frame.ts';
import type { CtapCommand } from '../protocol/ctap2/command.ts';
import { GetInfo, type AuthenticatorInfo } from '../protocol/ctap2/get-info.ts';
import { ClientPin, ClientPinSubcommand, PinUvAuthPermission, type ClientPinRequest, type ClientPinResponse } from '../protocol/ctap2/client-pin.ts';
import { MakeCredential, type MakeCredentialRequest } from '../protocol/ctap2/make-credential.ts';
import { GetAssertion, GetNextAssertion, type GetAssertionResponse } from '../protocol/ctap2/get-assertion.ts';
import { Reset } from '../protocol/ctap2/reset.ts';
import { Selection } from '../protocol/ctap2/selection.ts';
import { parseAuthData } from '../protocol/ctap2/auth-data.ts';
import { CtapError, CtapStatus } from '../protocol/ctap2/status.ts';
import type { CborMap } from '../protocol/cbor.ts';
import { changePinParams, encryptPinHash, pinProtocol, setPinParams, type PinUvAuthProtocol, type RandomSource } from '../protocol/pin/pin-protocol.ts';
import { validatePin, type LocalPinPolicy } from '../protocol/pin/pin-rules.ts';
import type { Pin, SecretBytes } from '../protocol/secret.ts';
import { KeytapError } from '../protocol/errors.ts';
import { Deadline, throwIfAborted, type Clock, systemClock } from '../util/deadline.ts';
import { derivePinStatus, DEFAULT_MAX_RETRIES, type PinStatus } from './pin-status.ts';
import {
  ConfirmationRequiredError,
  OperationDeniedError,
  PinAlreadySetError,
  PinBlockedError,
  PinChangeRequiredError,
  PinChangeUnconfirmedError,
  PinInvalidError,
  PinNotSetError,
  PinSoftBlockedError,
  ResetNotAllowedError,
  TimeoutError,
  UnsupportedError,
  errorFromCtapStatus,
} from './errors.ts';

/** Progress of a long operation, for UIs (`request.progress` in the agent API). */
export type Progress = 'touch-needed' | 'processing' | 'insert-key' | 'remove-key';

/** Options every operation takes. */
export interface OpOptions {
  signal?: AbortSignal;
  /** The whole operation's budget (all its exchanges). Default: 60 s from the call. */
  deadline?: Deadline;
  /** Called once per change: touch needed, processing (from CTAPHID keepalives). */
  onProgress?: (p: Progress) => void;
}

/** Constructor options of `FidoClient`. */
export interface FidoClientOptions {
  /** Local PIN policy applied on top of the device's rules. Default: none (CTAP rules only). */
  policy?: LocalPinPolicy;
  /** Randomness for key agreement and protocol-2 IVs. Default `crypto.randomBytes`. */
  random?: RandomSource;
  /** Clock for default deadlines. Default `Date.now`. */
  clock?: Clock;
  /** Default operation budget in ms. Default 60 000. */
  defaultBudgetMs?: number;
}

/** makeCredential input. */
export interface MakeCredentialParams {
  rpId: string;
  rp?: { id: string; name?: string };
  user: { id: Uint8Array; name?: string; displayName?: string };
  clientDataHash: Uint8Array;
  pin?: Pin;
  residentKey?: boolean;
  userVerification?: boolean;
  excludeList?: Uint8Array[];
  /** COSE algorithms in order of preference. Default [-7 ES256, -8 EdDSA]. */
  algorithms?: number[];
}

/** makeCredential output. */
export interface MakeCredentialResult {
  fmt: string;
  authData: Uint8Array;
  attStmt: CborMap;
  credentialId: Uint8Array;
  publicKey: CborMap;
}

/** getAssertion input. */
export interface GetAssertionParams {
  rpId: string;
  clientDataHash: Uint8Array;
  allowCredentials?: Uint8Array[];
  pin?: Pin;
  userVerification?: boolean;
}

/** One assertion. */
export interface AssertionResult {
  credentialId: Uint8Array;
  authData: Uint8Array;
  signature: Uint8Array;
  user?: { id: Uint8Array; name?: string; displayName?: string };
  numberOfCredentials?: number;
}

/** Default operation budget: PIN flows take several exchanges; touch prompts wait up to 30 s. */
export const DEFAULT_OPERATION_BUDGET_MS = 60_000;

const MC_GA = PinUvAuthPermission.makeCredential | PinUvAuthPermission.getAssertion;

export class FidoClient {
  readonly transport: CtapTransport;
  readonly #policy: LocalPinPolicy | undefined;
  readonly #random: RandomSource | undefined;
  readonly #clock: Clock;
  readonly #budget: number;
  #info: AuthenticatorInfo | null = null;
  /** Highest pinRetries seen: "back at the maximum" after a change is checked against it. */
  #highestRetries = 0;
  /** The last attempt got 0x34: soft-blocked even when the key omits powerCycleState. */
  #softBlocked = false;

  constructor(transport: CtapTransport, options: FidoClientOptions = {}) {
    this.transport = transport;
    this.#policy = options.policy;
    this.#random = options.random;
    this.#clock = options.clock ?? systemClock;
    this.#budget = options.defaultBudgetMs ?? DEFAULT_OPERATION_BUDGET_MS;
  }

  /** authenticatorGetInfo (CTAP 2.1 §6.4). Also lowers the transport's message limit to maxMsgSize. */
  async getInfo(o: OpOptions = {}): Promise<AuthenticatorInfo> {
    const info = await this.#call(GetInfo, undefined, this.#op(o), 'getInfo');
    this.#info = info;
    const t = this.transport as CtapTransport & { limitMessageSize?: (n: number) => void };
    if (info.maxMsgSize !== undefined) t.limitMessageSize?.(info.maxMsgSize);
    return info;
  }

  /** The PIN state, read from the device (never assumed; retries only polled when a PIN is set). */
  async pinStatus(o: OpOptions = {}): Promise<PinStatus> {
    const op = this.#op(o);
    const info = await this.getInfo(op);
    return this.#readStatus(info, op);
  }

  /** Sets the first PIN (clientPIN setPIN, CTAP 2.1 §6.5.5.5) and returns the verified state. */
  async setPin(newPin: Pin, o: OpOptions = {}): Promise<PinStatus> {
    const op = this.#op(o);
    try {
      const info = await this.getInfo(op);
      if (info.options?.clientPin === undefined) throw new UnsupportedError('this key does not support a PIN (no clientPin option)');
      if (info.options.clientPin === true) throw new PinAlreadySetError();
      validatePin(newPin, { minLength: info.minPINLength, maxLength: info.maxPINLength, policy: this.#policy });
      const protocol = this.#protocol(info);
      const { keyAgreement, sharedSecret } = await this.#keyAgreement(protocol, op);
      try {
        const p = setPinParams(protocol, sharedSecret, newPin.exposeSecret());
        await this.#clientPin({ pinUvAuthProtocol: protocol.version, subCommand: ClientPinSubcommand.setPIN, keyAgreement, ...p }, op, 'setPIN');
      } catch (e) {
        throw this.#mapPinError(e, null);
      } finally {
        sharedSecret.wipe();
      }
      return await this.#verifyChanged(null, op);
    } finally {
      newPin.wipe();
    }
  }

  /** Changes the PIN (clientPIN changePIN, CTAP 2.1 §6.5.5.6) and returns the verified state. */
  async changePin(current: Pin, next: Pin, o: OpOptions & { confirmLastAttempt?: boolean } = {}): Promise<PinStatus> {
    const op = this.#op(o);
    try {
      const info = await this.getInfo(op);
      const before = await this.#readStatus(info, op);
      this.#guardAttempt(before, o.confirmLastAttempt, true);
      validatePin(next, {
        minLength: info.minPINLength,
        maxLength: info.maxPINLength,
        policy: this.#policy,
        currentPin: current,
        forcePinChange: info.forcePINChange === true,
      });
      const protocol = this.#protocol(info);
      const { keyAgreement, sharedSecret } = await this.#keyAgreement(protocol, op);
      try {
        const p = changePinParams(protocol, sharedSecret, current.exposeSecret(), next.exposeSecret());
        await this.#clientPin({ pinUvAuthProtocol: protocol.version, subCommand: ClientPinSubcommand.changePIN, keyAgreement, ...p }, op, 'changePIN');
        this.#softBlocked = false;
      } catch (e) {
        throw await this.#afterFailedAttempt(e, info, op);
      } finally {
        sharedSecret.wipe();
      }
      return await this.#verifyChanged(before.retriesLeft, op);
    } finally {
      current.wipe();
      next.wipe();
    }
  }

  /**
   * Checks a PIN by obtaining a pinUvAuthToken and discarding it (libfido2#562: no verify API).
   * Spends an attempt only when the PIN is wrong; a right PIN resets the retries to the maximum.
   * `permissions` default makeCredential|getAssertion (0x09 requests only).
   */
  async verifyPin(pin: Pin, o: OpOptions & { confirmLastAttempt?: boolean; permissions?: number; rpId?: string } = {}): Promise<PinStatus> {
    const op = this.#op(o);
    try {
      const info = await this.getInfo(op);
      const before = await this.#readStatus(info, op);
      this.#guardAttempt(before, o.confirmLastAttempt);
      const token = await this.#getToken(info, pin, o.permissions ?? MC_GA, o.rpId, op);
      token.wipe();
      return await this.#readStatus(info, op);
    } finally {
      pin.wipe();
    }
  }

  /**
   * authenticatorReset (CTAP 2.1 §6.6): erases every credential and the PIN. Needs a touch
   * within the key's window after power-up (5 s Yubico, 10 s others; fido.md §10).
   */
  async reset(o: OpOptions = {}): Promise<PinStatus> {
    const op = this.#op(o);
    try {
      await this.#call(Reset, undefined, op, 'reset');
    } catch (e) {
      if (e instanceof CtapError) {
        const s = e.status;
        const d = { cause: e, details: { ctapStatus: s } };
        if (s === CtapStatus.NOT_ALLOWED || s === CtapStatus.PIN_AUTH_BLOCKED) throw new ResetNotAllowedError({ ...d, windowSeconds: 5 });
        if (s === CtapStatus.OPERATION_DENIED) throw new OperationDeniedError('the reset was denied on the key', d);
        if (s === CtapStatus.ACTION_TIMEOUT || s === CtapStatus.USER_ACTION_TIMEOUT) throw new TimeoutError('no touch on the key: the reset was not done (touch the key when it blinks)', d);
        throw errorFromCtapStatus(s, 'reset');
      }
      throw e;
    }
    this.#softBlocked = false;
    this.#highestRetries = 0;
    return this.pinStatus(op);
  }

  /** authenticatorMakeCredential with a PIN token (or built-in UV), reporting touch progress. */
  async makeCredential(p: MakeCredentialParams, o: OpOptions = {}): Promise<MakeCredentialResult> {
    const op = this.#op(o);
    try {
      // With a PIN the state is read fresh (PIN safety); without one the cached getInfo will do.
      const info = p.pin || !this.#info ? await this.getInfo(op) : this.#info;
      const auth = await this.#pinAuth(info, p.pin, PinUvAuthPermission.makeCredential, p.rpId, p.clientDataHash, op);
      const options: Record<string, boolean> = {};
      if (p.residentKey) options.rk = true;
      if (p.userVerification && !auth) options.uv = true; // omit false: CTAP 2.0 keys reject uv:false (fido.md §14.4)
      const req: MakeCredentialRequest = {
        clientDataHash: p.clientDataHash,
        rp: { id: p.rpId, ...(p.rp?.name !== undefined ? { name: p.rp.name } : {}) },
        user: { id: p.user.id, ...(p.user.name !== undefined ? { name: p.user.name } : {}), ...(p.user.displayName !== undefined ? { displayName: p.user.displayName } : {}) },
        pubKeyCredParams: (p.algorithms ?? [-7, -8]).map((alg) => ({ type: 'public-key', alg })),
        ...(p.excludeList?.length ? { excludeList: p.excludeList.map((id) => ({ type: 'public-key', id })) } : {}),
        ...(Object.keys(options).length ? { options } : {}),
        ...(auth ?? {}),
      };
      let res;
      try {
        res = await this.#call(MakeCredential, req, op, 'makeCredential');
      } catch (e) {
        throw e instanceof CtapError ? errorFromCtapStatus(e.status, 'makeCredential') : e;
      }
      const ad = parseAuthData(res.authData).attestedCredentialData;
      if (!ad) throw new KeytapError('PROTOCOL_ERROR', 'makeCredential reply has no attested credential data');
      return { fmt: res.fmt, authData: res.authData, attStmt: res.attStmt, credentialId: ad.credentialId, publicKey: ad.publicKey };
    } finally {
      p.pin?.wipe();
    }
  }

  /** authenticatorGetAssertion (+ getNextAssertion for every further credential). */
  async getAssertion(p: GetAssertionParams, o: OpOptions = {}): Promise<AssertionResult[]> {
    const op = this.#op(o);
    try {
      // With a PIN the state is read fresh (PIN safety); without one the cached getInfo will do.
      const info = p.pin || !this.#info ? await this.getInfo(op) : this.#info;
      const auth = await this.#pinAuth(info, p.pin, PinUvAuthPermission.getAssertion, p.rpId, p.clientDataHash, op);
      const allow = p.allowCredentials?.map((id) => ({ type: 'public-key', id }));
      const req = {
        rpId: p.rpId,
        clientDataHash: p.clientDataHash,
        ...(allow?.length ? { allowList: allow } : {}),
        ...(p.userVerification && !auth ? { options: { uv: true } } : {}),
        ...(auth ?? {}),
      };
      const out: AssertionResult[] = [];
      try {
        const first = await this.#call(GetAssertion, req, op, 'getAssertion');
        out.push(toAssertion(first, allow));
        for (let i = 1; i < (first.numberOfCredentials ?? 1); i++) {
          out.push(toAssertion(await this.#call(GetNextAssertion, undefined, op, 'getNextAssertion'), allow));
        }
      } catch (e) {
        throw e instanceof CtapError ? errorFromCtapStatus(e.status, 'getAssertion') : e;
      }
      return out;
    } finally {
      p.pin?.wipe();
    }
  }

  /** CTAPHID_WINK: the key blinks so a technician can tell which one it is. */
  async wink(o: OpOptions = {}): Promise<void> {
    if ((this.transport.capabilities & CtapHidCapability.WINK) === 0) throw new UnsupportedError('this key cannot wink (no WINK capability)');
    const op = this.#op(o);
    await this.transport.exchange(CtapHidCmd.WINK, new Uint8Array(0), { signal: op.signal, deadline: op.deadline });
  }

  /**
   * Waits for a touch to select this key among several: authenticatorSelection (0x0B) on
   * CTAP 2.1 keys, else a dummy makeCredential with an empty pinAuth (python-fido2), which any
   * CTAP 2.0 key answers after a touch with PIN_NOT_SET or PIN_INVALID.
   */
  async selection(o: OpOptions = {}): Promise<void> {
    const op = this.#op(o);
    const info = this.#info ?? (await this.getInfo(op));
    try {
      if (info.versions.includes('FIDO_2_1')) {
        await this.#call(Selection, undefined, op, 'selection');
        return;
      }
      await this.#call(
        MakeCredential,
        {
          clientDataHash: new Uint8Array(32),
          rp: { id: '.dummy' },
          user: { id: Uint8Array.of(0x64) },
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          pinUvAuthParam: new Uint8Array(0),
          pinUvAuthProtocol: 1,
        },
        op,
        'selection',
      );
    } catch (e) {
      if (e instanceof CtapError && (e.status === CtapStatus.PIN_INVALID || e.status === CtapStatus.PIN_NOT_SET || e.status === CtapStatus.PIN_AUTH_INVALID)) return;
      throw e instanceof CtapError ? errorFromCtapStatus(e.status, 'selection') : e;
    }
  }

  // ------------------------------------------------------------------ internals

  #op(o: OpOptions): OpOptions & { deadline: Deadline } {
    return { ...o, deadline: o.deadline ?? Deadline.in(this.#budget, this.#clock) };
  }

  /** One CTAP2 exchange; a non-zero status throws `CtapError` (callers map it with context). */
  async #call<Req, Res>(command: CtapCommand<Req, Res>, req: Req, o: OpOptions, what: string): Promise<Res> {
    throwIfAborted(o.signal, what);
    const onKeepalive = o.onProgress
      ? (s: KeepaliveStatus): void => o.onProgress!(s === 'up-needed' ? 'touch-needed' : 'processing')
      : undefined;
    const reply = await this.transport.exchange(CtapHidCmd.CBOR, frameRequest(command, req), { signal: o.signal, deadline: o.deadline, onKeepalive });
    if (reply.length === 0) throw new KeytapError('PROTOCOL_ERROR', `${what}: empty CTAP2 reply (no status byte)`);
    if (reply[0] !== CtapStatus.OK) throw new CtapError(reply[0]!, what);
    return command.decodeResponse(reply.subarray(1));
  }

  #clientPin(req: ClientPinRequest, o: OpOptions, what: string): Promise<ClientPinResponse> {
    return this.#call(ClientPin, req, o, what);
  }

  /** PIN/UV auth protocol 2 when offered, else 1 (libfido2 and python-fido2 prefer v2; fido.md §14.6). */
  #protocol(info: AuthenticatorInfo): PinUvAuthProtocol {
    const offered = info.pinUvAuthProtocols ?? [1];
    const version = offered.includes(2) ? 2 : 1;
    return pinProtocol(version, this.#random ? { random: this.#random } : {});
  }

  async #keyAgreement(protocol: PinUvAuthProtocol, o: OpOptions): Promise<{ keyAgreement: ClientPinRequest['keyAgreement']; sharedSecret: SecretBytes }> {
    const r = await this.#clientPin({ pinUvAuthProtocol: protocol.version, subCommand: ClientPinSubcommand.getKeyAgreement }, o, 'getKeyAgreement');
    if (!r.keyAgreement) throw new KeytapError('PROTOCOL_ERROR', 'getKeyAgreement reply has no keyAgreement key');
    const enc = protocol.encapsulate(r.keyAgreement); // checks the point is on P-256
    return { keyAgreement: enc.keyAgreement, sharedSecret: enc.sharedSecret };
  }

  async #readRetries(info: AuthenticatorInfo, o: OpOptions): Promise<{ retries: number; powerCycleState?: boolean } | undefined> {
    // Never poll retries unless a PIN is set: YubiKeys answer 0x35, pico-fido hangs (fido.md §5).
    if (info.options?.clientPin !== true) return undefined;
    try {
      const r = await this.#clientPin({ pinUvAuthProtocol: this.#protocol(info).version, subCommand: ClientPinSubcommand.getPINRetries }, o, 'getPINRetries');
      if (r.pinRetries === undefined) throw new KeytapError('PROTOCOL_ERROR', 'getPINRetries reply has no pinRetries');
      this.#highestRetries = Math.max(this.#highestRetries, r.pinRetries);
      return { retries: r.pinRetries, ...(r.powerCycleState !== undefined ? { powerCycleState: r.powerCycleState } : {}) };
    } catch (e) {
      if (e instanceof CtapError && e.status === CtapStatus.PIN_NOT_SET) return undefined;
      if (e instanceof CtapError && e.status === CtapStatus.PIN_BLOCKED) return { retries: 0 };
      throw e;
    }
  }

  async #readStatus(info: AuthenticatorInfo, o: OpOptions): Promise<PinStatus> {
    const retries = await this.#readRetries(info, o);
    let uvRetries: number | undefined;
    if (info.options?.uv === true && info.versions.some((v) => v === 'FIDO_2_1' || v === 'FIDO_2_1_PRE')) {
      try {
        uvRetries = (await this.#clientPin({ pinUvAuthProtocol: this.#protocol(info).version, subCommand: ClientPinSubcommand.getUVRetries }, o, 'getUVRetries')).uvRetries;
      } catch (e) {
        if (!(e instanceof CtapError)) throw e; // a key without getUVRetries: leave it out
      }
    }
    return derivePinStatus(
      { clientPin: retries === undefined ? false : info.options?.clientPin, forcePinChange: info.forcePINChange, minPinLength: info.minPINLength, maxPinLength: info.maxPINLength },
      retries,
      {
        ...(uvRetries !== undefined ? { uvRetries } : {}),
        maxRetries: Math.max(DEFAULT_MAX_RETRIES, this.#highestRetries),
        lastAttemptSoftBlocked: this.#softBlocked,
      },
    );
  }

  /**
   * Refuses an attempt the state forbids, before anything is sent (DESIGN.md §3). `forChange`:
   * the attempt is a changePIN, which a change-required key accepts (token requests it refuses).
   */
  #guardAttempt(s: PinStatus, confirmLastAttempt: boolean | undefined, forChange = false): void {
    const d = { details: { retriesLeft: s.retriesLeft } };
    switch (s.state) {
      case 'no-pin':
        throw new PinNotSetError();
      case 'blocked':
        throw new PinBlockedError();
      case 'soft-blocked':
        throw new PinSoftBlockedError(s.retriesLeft, d);
      case 'change-required':
        // A change is exactly what the key wants; a token request is refused.
        if (!forChange) throw new PinChangeRequiredError(d);
        if (s.retriesLeft === 1 && confirmLastAttempt !== true) throw new ConfirmationRequiredError();
        break;
      default:
        if (s.retriesLeft === 1 && confirmLastAttempt !== true) throw new ConfirmationRequiredError();
    }
  }

  /** A pinUvAuthToken (0x09 when the key offers pinUvAuthToken, else legacy 0x05), as a secret. */
  async #getToken(info: AuthenticatorInfo, pin: Pin, permissions: number, rpId: string | undefined, o: OpOptions): Promise<SecretBytes> {
    const protocol = this.#protocol(info);
    const { keyAgreement, sharedSecret } = await this.#keyAgreement(protocol, o);
    try {
      const pinHashEnc = encryptPinHash(protocol, sharedSecret, pin.exposeSecret());
      const withPermissions = info.options?.pinUvAuthToken === true;
      const r = await this.#clientPin(
        {
          pinUvAuthProtocol: protocol.version,
          subCommand: withPermissions ? ClientPinSubcommand.getPinUvAuthTokenUsingPinWithPermissions : ClientPinSubcommand.getPinToken,
          keyAgreement,
          pinHashEnc,
          ...(withPermissions ? { permissions, ...(rpId !== undefined ? { rpId } : {}) } : {}),
        },
        o,
        'getPinToken',
      );
      this.#softBlocked = false;
      if (!r.pinUvAuthToken) throw new KeytapError('PROTOCOL_ERROR', 'token reply has no pinUvAuthToken');
      return protocol.decrypt(sharedSecret, r.pinUvAuthToken);
    } catch (e) {
      throw await this.#afterFailedAttempt(e, info, o);
    } finally {
      sharedSecret.wipe();
    }
  }

  /** pinUvAuthParam/protocol for mc/ga when a PIN is given (after the same state checks as verifyPin). */
  async #pinAuth(
    info: AuthenticatorInfo,
    pin: Pin | undefined,
    permission: number,
    rpId: string,
    clientDataHash: Uint8Array,
    o: OpOptions,
  ): Promise<{ pinUvAuthParam: Uint8Array; pinUvAuthProtocol: number } | undefined> {
    if (!pin) return undefined;
    const before = await this.#readStatus(info, o);
    // mc/ga carry no confirmation flag: the last attempt is never spent implicitly.
    this.#guardAttempt(before, false);
    const token = await this.#getToken(info, pin, permission, rpId, o);
    try {
      const protocol = this.#protocol(info);
      return { pinUvAuthParam: protocol.authenticate(token, clientDataHash), pinUvAuthProtocol: protocol.version };
    } finally {
      token.wipe();
    }
  }

  /** Maps a failed PIN attempt, re-reading the retries so the error says how many are left. */
  async #afterFailedAttempt(e: unknown, info: AuthenticatorInfo, o: OpOptions): Promise<unknown> {
    if (!(e instanceof CtapError)) return e;
    const s = e.status;
    if (s === CtapStatus.PIN_INVALID || s === CtapStatus.PIN_AUTH_BLOCKED || s === CtapStatus.PIN_BLOCKED) {
      let after: { retries: number; powerCycleState?: boolean } | undefined;
      try {
        after = await this.#readRetries(info, { ...o, onProgress: undefined });
      } catch {
        after = undefined; // the error still goes out, without a fresh count
      }
      const left = after?.retries ?? null;
      const d = { cause: e, details: { ctapStatus: s } };
      if (s === CtapStatus.PIN_BLOCKED || left === 0) return new PinBlockedError(d);
      if (s === CtapStatus.PIN_AUTH_BLOCKED || after?.powerCycleState === true) {
        // 0x34, or 0x31 with powerCycleState (some firmware sends 0x31 on the 3rd mismatch; fido.md §14.1).
        this.#softBlocked = true;
        return new PinSoftBlockedError(left, d);
      }
      return new PinInvalidError(left, d);
    }
    return this.#mapPinError(e, null);
  }

  #mapPinError(e: unknown, retriesLeft: number | null): unknown {
    if (!(e instanceof CtapError)) return e;
    if (e.status === CtapStatus.NOT_ALLOWED) return new PinAlreadySetError({ cause: e, details: { ctapStatus: e.status } });
    return errorFromCtapStatus(e.status, e.message, retriesLeft);
  }

  /** Re-reads the state after setPIN/changePIN and checks the change took (DESIGN.md §3). */
  async #verifyChanged(retriesBefore: number | null, o: OpOptions): Promise<PinStatus> {
    const info = await this.getInfo(o);
    if (info.options?.clientPin !== true) throw new PinChangeUnconfirmedError('the key accepted the PIN but still reports no PIN set: set it again');
    const s = await this.#readStatus(info, o);
    if (info.forcePINChange === true) throw new PinChangeUnconfirmedError('the key accepted the new PIN but still requires a PIN change');
    const back = s.retriesLeft !== null && s.retriesLeft >= (retriesBefore ?? 0) && s.retriesLeft >= this.#highestRetries;
    if (!back || s.state !== 'ok') {
      throw new PinChangeUnconfirmedError(`the key accepted the PIN but reports ${s.retriesLeft ?? 'no'} attempts left (state ${s.state}); check it with \`keytap pin status\``, {
        details: { state: s.state, retriesLeft: s.retriesLeft },
      });
    }
    return s;
  }
}

function toAssertion(r: GetAssertionResponse, allow: { id: Uint8Array }[] | undefined): AssertionResult {
  // The credential may be omitted when the allowList had exactly one entry (CTAP 2.1 §6.2.2).
  const credentialId = r.credential?.id ?? (allow?.length === 1 ? allow[0]!.id : undefined);
  if (!credentialId) throw new KeytapError('PROTOCOL_ERROR', 'getAssertion reply names no credential');
  return {
    credentialId,
    authData: r.authData,
    signature: r.signature,
    ...(r.user ? { user: { id: r.user.id, ...(r.user.name !== undefined ? { name: r.user.name } : {}), ...(r.user.displayName !== undefined ? { displayName: r.user.displayName } : {}) } } : {}),
    ...(r.numberOfCredentials !== undefined ? { numberOfCredentials: r.numberOfCredentials } : {}),
  };
}
