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
import { changePinParams, encryptPinHash, pinProtocol, setPinParams, type Encapsulation, type EphemeralKeyPair, type PinUvAuthProtocol, type RandomSource } from '../protocol/pin/pin-protocol.ts';
import type { CoseEc2PublicKey } from '../protocol/cose.ts';
import { validatePin, type LocalPinPolicy } from '../protocol/pin/pin-rules.ts';
import type { Pin, SecretBytes } from '../protocol/secret.ts';
import { KeytapError } from '../protocol/errors.ts';
import { Deadline, throwIfAborted, type Clock, systemClock } from '../util/deadline.ts';
import { bytesEqual } from '../util/bytes.ts';
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
  /**
   * Each key's last key-agreement key (public), by transport descriptor and PIN protocol, so a
   * PIN operation can compute its agreement while the key answers getKeyAgreement. Share one
   * map between the clients of successive transactions (the agent does). Default: this
   * client's own.
   */
  agreementKeys?: Map<string, CoseEc2PublicKey>;
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
/** What `#anticipate` prepared: an early agreement with the expected key, or just our key pair. */
interface Anticipated {
  /** Key of `#agreementKeys`. */
  memo: string;
  known?: CoseEc2PublicKey;
  early?: Agreed;
  ephemeral?: EphemeralKeyPair;
}

/** An agreement made before getInfo's reply (`#guessAgreement`). */
interface Guess {
  memo: string;
  known: CoseEc2PublicKey;
  enc: Encapsulation;
}

/** An agreement and the request built on it. */
interface Agreed {
  request: Uint8Array;
  sharedSecret: SecretBytes;
}

function buildAgreed(enc: Encapsulation, build: (enc: Encapsulation) => Uint8Array): Agreed {
  try {
    return { request: build(enc), sharedSecret: enc.sharedSecret };
  } catch (e) {
    enc.sharedSecret.wipe();
    throw e;
  }
}

/** Wipes an agreement that will not be used (its request carries encrypted PIN material). */
function discard(a: Agreed | undefined): undefined {
  a?.sharedSecret.wipe();
  a?.request.fill(0);
  return undefined;
}

function sameKey(a: CoseEc2PublicKey, b: CoseEc2PublicKey): boolean {
  return a.crv === b.crv && bytesEqual(a.x, b.x) && bytesEqual(a.y, b.y);
}

/** authenticatorGetInfo takes no parameters: its request is always the command byte. */
const GET_INFO_REQUEST = frameRequest(GetInfo, undefined);

/** Freezes a decoded getInfo and its nested objects and arrays (byte arrays cannot be frozen). */
function freezeInfo<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) freezeInfo(v);
    Object.freeze(value);
  }
  return value;
}

export class FidoClient {
  readonly transport: CtapTransport;
  readonly #policy: LocalPinPolicy | undefined;
  readonly #random: RandomSource | undefined;
  readonly #clock: Clock;
  readonly #budget: number;
  readonly #agreementKeys: Map<string, CoseEc2PublicKey>;
  /** A key pair made while an earlier request was answered, for the next agreement (used once). */
  #spare: EphemeralKeyPair | null = null;
  #info: AuthenticatorInfo | null = null;
  /** The getInfo reply body `#info` was decoded from. */
  #infoBody: Uint8Array | null = null;
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
    this.#agreementKeys = options.agreementKeys ?? new Map();
  }

  /** authenticatorGetInfo (CTAP 2.1 §6.4). Also lowers the transport's message limit to maxMsgSize. */
  async getInfo(o: OpOptions = {}): Promise<AuthenticatorInfo> {
    const reply = this.#callRaw(GET_INFO_REQUEST, this.#op(o), 'getInfo');
    this.#prepareSpare();
    const body = await reply;
    // Read every time (never assumed), decoded only when the bytes changed: the state reads
    // around a PIN change fetch the same reply twice. The object is shared, hence frozen.
    if (this.#info && this.#infoBody && bytesEqual(body, this.#infoBody)) return this.#info;
    const info = freezeInfo(GetInfo.decodeResponse(body));
    this.#info = info;
    this.#infoBody = body.slice();
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
      const { request, sharedSecret } = await this.#agree(protocol, op, (enc) =>
        frameRequest(ClientPin, {
          pinUvAuthProtocol: protocol.version,
          subCommand: ClientPinSubcommand.setPIN,
          keyAgreement: enc.keyAgreement,
          ...setPinParams(protocol, enc.sharedSecret, newPin.exposeSecret()),
        }),
      );
      try {
        await this.#callRaw(request, op, 'setPIN');
      } catch (e) {
        throw this.#mapPinError(e, null);
      } finally {
        sharedSecret.wipe();
        request.fill(0); // encrypted PIN material: no longer needed once sent
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
      // Each request leaves before the work that does not need its reply: the agreement with
      // the key's last agreement key during getInfo, the PIN rules and the changePIN request
      // during getPINRetries (`#anticipate`). A state the guard refuses still wins over a rule
      // the new PIN breaks, and nothing computed early is sent unless the key's reply matches.
      const { info, guess } = await this.#infoWithGuess(op);
      const protocol = this.#protocol(info);
      const build = (enc: Encapsulation): Uint8Array =>
        frameRequest(ClientPin, {
          pinUvAuthProtocol: protocol.version,
          subCommand: ClientPinSubcommand.changePIN,
          keyAgreement: enc.keyAgreement,
          ...changePinParams(protocol, enc.sharedSecret, current.exposeSecret(), next.exposeSecret()),
        });
      const { before, agreed } = await this.#guardedAgreement(info, protocol, build, op, guess, (s) => this.#guardAttempt(s, o.confirmLastAttempt, true), () =>
        validatePin(next, {
          minLength: info.minPINLength,
          maxLength: info.maxPINLength,
          policy: this.#policy,
          currentPin: current,
          forcePinChange: info.forcePINChange === true,
        }),
      );
      const { request, sharedSecret } = agreed;
      try {
        await this.#callRaw(request, op, 'changePIN');
        this.#softBlocked = false;
      } catch (e) {
        throw await this.#afterFailedAttempt(e, info, op);
      } finally {
        sharedSecret.wipe();
        request.fill(0); // encrypted PIN material: no longer needed once sent
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
      const { info, guess } = await this.#infoWithGuess(op);
      const token = await this.#guardedToken(info, pin, o.permissions ?? MC_GA, o.rpId, op, o.confirmLastAttempt, guess);
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
      const { info, guess } = p.pin ? await this.#infoWithGuess(op) : { info: this.#info ?? (await this.getInfo(op)), guess: undefined };
      const auth = await this.#pinAuth(info, guess, p.pin, PinUvAuthPermission.makeCredential, p.rpId, p.clientDataHash, op);
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
      const { info, guess } = p.pin ? await this.#infoWithGuess(op) : { info: this.#info ?? (await this.getInfo(op)), guess: undefined };
      const auth = await this.#pinAuth(info, guess, p.pin, PinUvAuthPermission.getAssertion, p.rpId, p.clientDataHash, op);
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
    return command.decodeResponse(await this.#callRaw(frameRequest(command, req), o, what));
  }

  /** One framed CTAP2 request; resolves with the reply body after an OK status, else throws `CtapError`. */
  async #callRaw(request: Uint8Array, o: OpOptions, what: string): Promise<Uint8Array> {
    throwIfAborted(o.signal, what);
    const onKeepalive = o.onProgress
      ? (s: KeepaliveStatus): void => o.onProgress!(s === 'up-needed' ? 'touch-needed' : 'processing')
      : undefined;
    const reply = await this.transport.exchange(CtapHidCmd.CBOR, request, { signal: o.signal, deadline: o.deadline, onKeepalive });
    if (reply.length === 0) throw new KeytapError('PROTOCOL_ERROR', `${what}: empty CTAP2 reply (no status byte)`);
    if (reply[0] !== CtapStatus.OK) throw new CtapError(reply[0]!, what);
    return reply.subarray(1);
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

  /**
   * The agreement work that can be done before getKeyAgreement's reply: our key pair and, when
   * this key gave an agreement key before, the agreement with that key and the request built
   * on it. A key keeps its agreement key until power-up or a wrong PIN (CTAP 2.1 §6.5.4
   * initialize/regenerate), so the guess is usually right; `#agree` checks it.
   */
  #anticipate(protocol: PinUvAuthProtocol, build: (enc: Encapsulation) => Uint8Array, guess?: Guess): Anticipated {
    const memo = this.#memo(protocol.version);
    if (guess && guess.memo === memo) return { memo, known: guess.known, early: buildAgreed(guess.enc, build) };
    guess?.enc.sharedSecret.wipe();
    const known = this.#agreementKeys.get(memo);
    if (known) return { memo, known, early: buildAgreed(protocol.encapsulate(known, this.#ephemeral(protocol)), build) };
    return { memo, ephemeral: this.#ephemeral(protocol) };
  }

  /**
   * While a request is answered: the key pair for this key's next PIN operation, when the key
   * has had one (an agreement key is known). An optimisation only: a failure leaves no spare.
   */
  #prepareSpare(): void {
    if (this.#spare || !this.#info) return;
    const protocol = this.#protocol(this.#info);
    if (!this.#agreementKeys.has(this.#memo(protocol.version))) return;
    try {
      this.#spare = protocol.prepareEphemeral();
    } catch {
      this.#spare = null;
    }
  }

  /** Key of `#agreementKeys`: this key (by transport descriptor) and a PIN protocol version. */
  #memo(version: number): string {
    return `${this.transport.descriptor} v${version}`;
  }

  /** The spare key pair if one was made, else a new one. */
  #ephemeral(protocol: PinUvAuthProtocol): EphemeralKeyPair {
    const e = this.#spare ?? protocol.prepareEphemeral();
    this.#spare = null;
    return e;
  }

  /**
   * The agreement alone, before getInfo's reply says which PIN protocol to use: guessed from
   * this client's last getInfo and the key's last agreement key. `#anticipate` uses it when the
   * guess holds; undefined when there is nothing to guess from.
   */
  #guessAgreement(): Guess | undefined {
    if (!this.#info) return undefined;
    const protocol = this.#protocol(this.#info);
    const memo = this.#memo(protocol.version);
    const known = this.#agreementKeys.get(memo);
    if (!known) return undefined;
    try {
      return { memo, known, enc: protocol.encapsulate(known, this.#ephemeral(protocol)) };
    } catch {
      return undefined; // a guess that fails is no guess: the agreement is made after the reply
    }
  }

  /**
   * getKeyAgreement (CTAP 2.1 §6.5.5.4), then `build` makes the request that uses the agreement.
   * The request leaves first and `#anticipate` runs while the key answers, unless the caller
   * ran it earlier. The early agreement is used only if the reply carries exactly the expected
   * key, and is wiped otherwise: nothing is ever sent on a guess, and each agreement has its
   * own fresh ephemeral key.
   */
  async #agree(protocol: PinUvAuthProtocol, o: OpOptions, build: (enc: Encapsulation) => Uint8Array, anticipated?: Anticipated): Promise<Agreed> {
    const reply = this.#clientPin({ pinUvAuthProtocol: protocol.version, subCommand: ClientPinSubcommand.getKeyAgreement }, o, 'getKeyAgreement');
    let a = anticipated;
    if (!a) {
      try {
        a = this.#anticipate(protocol, build);
      } catch (e) {
        await reply.catch(() => undefined);
        throw e;
      }
    }
    let peer: CoseEc2PublicKey | undefined;
    try {
      peer = (await reply).keyAgreement;
    } finally {
      if (!peer || (a.known && !sameKey(peer, a.known))) a.early = discard(a.early);
    }
    if (!peer) throw new KeytapError('PROTOCOL_ERROR', 'getKeyAgreement reply has no keyAgreement key');
    if (a.early) return a.early;
    const agreed = buildAgreed(protocol.encapsulate(peer, a.ephemeral), build); // checks the point is on P-256
    this.#agreementKeys.set(a.memo, peer);
    return agreed;
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

  /**
   * The state read, the guard, then a pinUvAuthToken (0x09 when the key offers pinUvAuthToken,
   * else legacy 0x05) as a secret. Scheduled as changePin is: the token request's agreement
   * work runs while getPINRetries is answered (and `guess`'s, made during getInfo, is used when
   * it holds); a state the guard refuses throws before anything costs an attempt.
   */
  async #guardedToken(
    info: AuthenticatorInfo,
    pin: Pin,
    permissions: number,
    rpId: string | undefined,
    o: OpOptions,
    confirmLastAttempt: boolean | undefined,
    guess: Guess | undefined,
  ): Promise<SecretBytes> {
    const protocol = this.#protocol(info);
    const withPermissions = info.options?.pinUvAuthToken === true;
    const build = (enc: Encapsulation): Uint8Array =>
      frameRequest(ClientPin, {
        pinUvAuthProtocol: protocol.version,
        subCommand: withPermissions ? ClientPinSubcommand.getPinUvAuthTokenUsingPinWithPermissions : ClientPinSubcommand.getPinToken,
        keyAgreement: enc.keyAgreement,
        pinHashEnc: encryptPinHash(protocol, enc.sharedSecret, pin.exposeSecret()),
        ...(withPermissions ? { permissions, ...(rpId !== undefined ? { rpId } : {}) } : {}),
      });
    const { request, sharedSecret } = (await this.#guardedAgreement(info, protocol, build, o, guess, (s) => this.#guardAttempt(s, confirmLastAttempt))).agreed;
    try {
      const r = ClientPin.decodeResponse(await this.#callRaw(request, o, 'getPinToken'));
      this.#softBlocked = false;
      if (!r.pinUvAuthToken) throw new KeytapError('PROTOCOL_ERROR', 'token reply has no pinUvAuthToken');
      return protocol.decrypt(sharedSecret, r.pinUvAuthToken);
    } catch (e) {
      throw await this.#afterFailedAttempt(e, info, o);
    } finally {
      sharedSecret.wipe();
      request.fill(0);
    }
  }

  /**
   * The state read and `guard`, then the agreement for `build`'s request. While getPINRetries is
   * answered, `validate` runs and `#anticipate` builds the request early (from `guess` when it
   * holds). A state the guard refuses wins over a `validate` error, and both throw before
   * anything that costs an attempt is sent.
   */
  async #guardedAgreement(
    info: AuthenticatorInfo,
    protocol: PinUvAuthProtocol,
    build: (enc: Encapsulation) => Uint8Array,
    o: OpOptions,
    guess: Guess | undefined,
    guard: (s: PinStatus) => void,
    validate?: () => void,
  ): Promise<{ before: PinStatus; agreed: Agreed }> {
    const status = this.#readStatus(info, o);
    let anticipated: Anticipated | undefined;
    let invalid: unknown;
    try {
      validate?.();
    } catch (e) {
      invalid = e;
    }
    if (invalid === undefined) {
      try {
        anticipated = this.#anticipate(protocol, build, guess);
      } catch {
        // redone by #agree after the reply, where a failure is reported
      }
    }
    if (!anticipated) guess?.enc.sharedSecret.wipe();
    let before: PinStatus;
    try {
      before = await status;
      guard(before);
      if (invalid !== undefined) throw invalid;
    } catch (e) {
      discard(anticipated?.early);
      throw e;
    }
    return { before, agreed: await this.#agree(protocol, o, build, anticipated) };
  }

  /** getInfo, with the agreement guessed while the key answers (see changePin); wipes the guess on failure. */
  async #infoWithGuess(o: OpOptions): Promise<{ info: AuthenticatorInfo; guess: Guess | undefined }> {
    const reading = this.getInfo(o);
    const guess = this.#guessAgreement();
    try {
      return { info: await reading, guess };
    } catch (e) {
      guess?.enc.sharedSecret.wipe();
      throw e;
    }
  }

  /** pinUvAuthParam/protocol for mc/ga when a PIN is given (after the same state checks as verifyPin). */
  async #pinAuth(
    info: AuthenticatorInfo,
    guess: Guess | undefined,
    pin: Pin | undefined,
    permission: number,
    rpId: string,
    clientDataHash: Uint8Array,
    o: OpOptions,
  ): Promise<{ pinUvAuthParam: Uint8Array; pinUvAuthProtocol: number } | undefined> {
    if (!pin) return undefined;
    // mc/ga carry no confirmation flag: the last attempt is never spent implicitly.
    const token = await this.#guardedToken(info, pin, permission, rpId, o, false, guess);
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
      // A wrong PIN makes the key regenerate its agreement key (CTAP 2.1 §6.5.5.5-7): forget it.
      for (const v of [1, 2]) this.#agreementKeys.delete(this.#memo(v));
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
