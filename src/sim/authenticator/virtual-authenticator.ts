/**
 * A stateful CTAP 2.1 authenticator in software (DESIGN.md §7), built on the same per-command
 * codecs as the host (`protocol/ctap2/*`): it decodes requests with `decodeRequest` and answers
 * with `encodeResponse`, so a codec bug shows up on both sides of every test.
 *
 * State is split as on a real key (OpenSK, Trussed): persistent state (PIN hash, retries,
 * credentials, minPINLength, forcePINChange) goes through `env.storage`; power-cycle state
 * (consecutive PIN mismatches, key-agreement keys, the pinUvAuthToken and its permissions,
 * the getNextAssertion queue, the power-up time for the reset window) lives here and is
 * dropped by `powerCycle()`.
 *
 * The simulator never logs or prints anything about PINs.
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { CborMap, CborValue } from '../../protocol/cbor.ts';
import { CtapStatus } from '../../protocol/ctap2/status.ts';
import { frameResponse, parseRequest } from '../../protocol/ctap2/frame.ts';
import { Ctap2FieldError } from '../../protocol/ctap2/fields.ts';
import { GetInfo, type AuthenticatorInfo } from '../../protocol/ctap2/get-info.ts';
import { ClientPin, ClientPinSubcommand, PinUvAuthPermission, type ClientPinRequest, type ClientPinResponse } from '../../protocol/ctap2/client-pin.ts';
import { MakeCredential, type MakeCredentialRequest, type MakeCredentialResponse } from '../../protocol/ctap2/make-credential.ts';
import { GetAssertion, GetNextAssertion, type GetAssertionRequest, type GetAssertionResponse } from '../../protocol/ctap2/get-assertion.ts';
import { Reset } from '../../protocol/ctap2/reset.ts';
import { Selection } from '../../protocol/ctap2/selection.ts';
import { AuthenticatorConfig, ConfigSubcommand, configAuthMessage, decodeSetMinPinLengthParams, type ConfigRequest } from '../../protocol/ctap2/config.ts';
import { AuthDataFlag, encodeAuthData } from '../../protocol/ctap2/auth-data.ts';
import { CoseAlgorithm, CoseCurve, CoseKeyLabel, CoseKeyType, type CoseEc2PublicKey } from '../../protocol/cose.ts';
import type { CtapCommand } from '../../protocol/ctap2/command.ts';
import type { Pin } from '../../protocol/secret.ts';
import { bytesEqual, fromBase64Url, fromHex, timingSafeEqualBytes } from '../../util/bytes.ts';
import { CancelledError } from '../../protocol/transport-errors.ts';
import { createSimEnv, type PersistentState, type SimEnv, type StoredCredential, type UserPresenceResult } from '../env.ts';
import { loadProfile, type DeviceProfile } from '../profiles.ts';
import type { CborHandler, KeepaliveStatusValue } from '../ctaphid-device.ts';
import { PinProtocolV1, PinProtocolV2, type KeyAgreementKeyPair, type PinUvAuthProtocol } from '../../protocol/pin/pin-protocol.ts';
import { SecretBytes } from '../../protocol/secret.ts';

/** Options of `VirtualAuthenticator`. */
export interface VirtualAuthenticatorOptions {
  /** Device profile; default `loadProfile()` (yubikey-5-nfc-5.7). */
  profile?: DeviceProfile;
  /** Injected environment; default `createSimEnv()` (system clock, crypto randomness, auto touch, memory storage). */
  env?: SimEnv;
  /** A PIN to set when the storage holds no state yet (a fresh key). Not kept; only its hash is stored. */
  initialPin?: Pin;
  /** makeCredential attestation: packed self attestation (default) or `none`. */
  attestation?: 'packed-self' | 'none';
  /** How long a user-presence request waits (CTAP 2.1 §6.1.2 step 17; 30 s typical). Default 30000. */
  userPresenceTimeoutMs?: number;
  /** pinUvAuthToken lifetime after it is issued (OpenSK INITIAL_USAGE_TIME_LIMIT_MS). Default 30000. */
  tokenLifetimeMs?: number;
}

/** Options of one `handle()` call (from the CTAPHID layer). */
export interface HandleOptions {
  /** Aborted on CTAPHID_CANCEL: a pending touch then answers 0x2D KEEPALIVE_CANCEL. */
  signal?: AbortSignal;
  /** Keepalive status changes (UPNEEDED while waiting for touch, PROCESSING otherwise). */
  onKeepalive?: (status: KeepaliveStatusValue) => void;
}

/** A status other than OK, thrown inside handlers and framed by `handle()`. */
class Status extends Error {
  constructor(readonly status: number) {
    super(`status 0x${status.toString(16)}`);
  }
}
const fail = (status: number): never => {
  throw new Status(status);
};

interface PinToken {
  /** The pinUvAuthToken (CTAP 2.1 §6.5.2.2): a secret, wiped when cleared. */
  bytes: SecretBytes;
  protocol: 1 | 2;
  permissions: number;
  rpId: string | undefined;
  issuedAt: number;
}

interface AssertionQueue {
  rpId: string;
  clientDataHash: Uint8Array;
  flags: number;
  credentials: StoredCredential[];
  uv: boolean;
  expiresAt: number;
}

/** Power-cycle state (CTAP 2.1 §6.5.2.1 "volatile"): gone after `powerCycle()`. */
interface RuntimeState {
  poweredAt: number;
  consecutiveMismatches: number;
  keyAgreement: Map<1 | 2, KeyAgreementKeyPair>;
  token: PinToken | null;
  assertions: AssertionQueue | null;
}

/** Maximum PIN length in bytes (CTAP 2.1 §6.5.5.5: 63 bytes of UTF-8). */
const MAX_PIN_BYTES = 63;
/** Padded new-PIN plaintext length (CTAP 2.1 §6.5.5.5: exactly 64 bytes). */
const PADDED_PIN_LENGTH = 64;
/** Minimum PIN length in code points when the profile says nothing (CTAP 2.1 §6.4 minPINLength default). */
const DEFAULT_MIN_PIN_LENGTH = 4;

/**
 * The virtual CTAP 2.1 authenticator. `handle(request)` takes `command ‖ params` and resolves
 * with `status ‖ body`; it also implements the CTAPHID device's `CborHandler`.
 */
export class VirtualAuthenticator implements CborHandler {
  readonly profile: DeviceProfile;
  readonly env: SimEnv;
  #state: PersistentState;
  #rt: RuntimeState;
  #protocols: Map<1 | 2, PinUvAuthProtocol>;
  #attestation: 'packed-self' | 'none';
  #upTimeoutMs: number;
  #tokenLifetimeMs: number;
  #aaguid: Uint8Array;

  constructor(options: VirtualAuthenticatorOptions = {}) {
    this.profile = options.profile ?? loadProfile();
    this.env = options.env ?? createSimEnv();
    this.#attestation = options.attestation ?? 'packed-self';
    this.#upTimeoutMs = options.userPresenceTimeoutMs ?? 30_000;
    this.#tokenLifetimeMs = options.tokenLifetimeMs ?? 30_000;
    this.#aaguid = fromHex(this.profile.getInfo.aaguid);
    this.#protocols = new Map();
    for (const v of this.profile.getInfo.pinUvAuthProtocols ?? [1]) {
      // The host's PIN/UV protocol implementation, used from the authenticator side
      // (generateKeyPair / decapsulate) with the injected randomness.
      if (v === 1) this.#protocols.set(1, new PinProtocolV1({ random: this.env.random }));
      if (v === 2) this.#protocols.set(2, new PinProtocolV2({ random: this.env.random }));
    }
    const stored = this.env.storage.load();
    this.#state = stored ?? this.#factoryState();
    this.#rt = this.#freshRuntime();
    if (!stored) {
      if (options.initialPin) this.#storePin(options.initialPin.exposeSecret());
      this.#save();
    }
  }

  // ---------------------------------------------------------------- public surface

  /** Simulates unplugging and re-inserting: drops power-cycle state, restarts the reset window. */
  powerCycle(): void {
    this.#clearToken();
    this.#clearKeyAgreement();
    this.#rt = this.#freshRuntime();
  }

  /** A read-only view of the PIN state (for tests and the control plane; no secrets). */
  get pinState(): { pinSet: boolean; pinRetries: number; consecutiveMismatches: number; forcePinChange: boolean; minPinLength: number; credentials: number } {
    return {
      pinSet: this.#state.pinHash !== null,
      pinRetries: this.#state.pinRetries,
      consecutiveMismatches: this.#rt.consecutiveMismatches,
      forcePinChange: this.#state.forcePinChange,
      minPinLength: this.#state.minPinLength,
      credentials: this.#state.credentials.length,
    };
  }

  /** `CborHandler` for the CTAPHID device. */
  handleCbor(request: Uint8Array, options: { signal: AbortSignal; onKeepalive: (status: KeepaliveStatusValue) => void }): Promise<Uint8Array> {
    return this.handle(request, options);
  }

  /** One CTAP2 request (`command ‖ CBOR params`) → `status ‖ CBOR body`. Never rejects. */
  async handle(request: Uint8Array, options: HandleOptions = {}): Promise<Uint8Array> {
    try {
      const { code, params } = parseRequest(request);
      const body = await this.#dispatch(code, params, options);
      return frameResponse(CtapStatus.OK, body);
    } catch (e) {
      if (e instanceof Status) return frameResponse(e.status);
      if (e instanceof Ctap2FieldError) return frameResponse(e.status);
      if (e instanceof CancelledError) return frameResponse(CtapStatus.KEEPALIVE_CANCEL);
      if (e instanceof Error && 'code' in e && (e as { code: string }).code === 'CTAP2_EMPTY_REQUEST') return frameResponse(CtapStatus.INVALID_LENGTH);
      return frameResponse(CtapStatus.OTHER);
    }
  }

  // ---------------------------------------------------------------- dispatch

  async #dispatch(code: number, params: Uint8Array, o: HandleOptions): Promise<Uint8Array | undefined> {
    const is21 = this.profile.getInfo.versions.includes('FIDO_2_1');
    switch (code) {
      case GetInfo.code:
        return GetInfo.encodeResponse(this.#getInfo());
      case ClientPin.code:
        return ClientPin.encodeResponse(this.#clientPin(decode(ClientPin, params)));
      case MakeCredential.code:
        return MakeCredential.encodeResponse(await this.#makeCredential(decode(MakeCredential, params), o));
      case GetAssertion.code:
        return GetAssertion.encodeResponse(await this.#getAssertion(decode(GetAssertion, params), o));
      case GetNextAssertion.code:
        return GetNextAssertion.encodeResponse(this.#getNextAssertion());
      case Reset.code:
        await this.#reset(o);
        return undefined;
      case Selection.code:
        if (!is21) return fail(CtapStatus.INVALID_COMMAND);
        await this.#requireUserPresence('authenticatorSelection', o, CtapStatus.USER_ACTION_TIMEOUT);
        return undefined;
      case AuthenticatorConfig.code:
        if (!this.profile.getInfo.options?.authnrCfg) return fail(CtapStatus.INVALID_COMMAND);
        this.#config(decode(AuthenticatorConfig, params));
        return undefined;
      default:
        return fail(CtapStatus.INVALID_COMMAND);
    }
  }

  // ---------------------------------------------------------------- getInfo (CTAP 2.1 §6.4)

  #getInfo(): AuthenticatorInfo {
    const p = this.profile.getInfo;
    const options: Record<string, boolean> = { ...(p.options ?? {}) };
    // Live state (fido.md §8): clientPin false = supported but not set.
    options.clientPin = this.#state.pinHash !== null;
    const is21 = p.versions.includes('FIDO_2_1');
    const info: AuthenticatorInfo = {
      versions: [...p.versions],
      aaguid: this.#aaguid,
      options,
      unknown: new Map(),
      canonical: true,
    };
    if (p.extensions) info.extensions = [...p.extensions];
    if (p.maxMsgSize !== undefined) info.maxMsgSize = p.maxMsgSize;
    if (p.pinUvAuthProtocols) info.pinUvAuthProtocols = [...p.pinUvAuthProtocols];
    if (p.maxCredentialCountInList !== undefined) info.maxCredentialCountInList = p.maxCredentialCountInList;
    if (p.maxCredentialIdLength !== undefined) info.maxCredentialIdLength = p.maxCredentialIdLength;
    if (p.transports) info.transports = [...p.transports];
    if (p.algorithms) info.algorithms = p.algorithms.map((a) => ({ ...a }));
    if (p.maxSerializedLargeBlobArray !== undefined) info.maxSerializedLargeBlobArray = p.maxSerializedLargeBlobArray;
    // forcePINChange / minPINLength are state (CTAP 2.1 §6.4 0x0C, 0x0D); 2.1 keys report them.
    if (is21 || p.forcePINChange !== undefined || options.setMinPINLength) info.forcePINChange = this.#state.forcePinChange;
    if (is21 || p.minPINLength !== undefined) info.minPINLength = this.#state.minPinLength;
    if (p.firmwareVersion !== undefined) info.firmwareVersion = p.firmwareVersion;
    if (p.maxCredBlobLength !== undefined) info.maxCredBlobLength = p.maxCredBlobLength;
    if (p.maxRPIDsForSetMinPINLength !== undefined) info.maxRPIDsForSetMinPINLength = p.maxRPIDsForSetMinPINLength;
    if (p.preferredPlatformUvAttempts !== undefined) info.preferredPlatformUvAttempts = p.preferredPlatformUvAttempts;
    if (p.uvModality !== undefined) info.uvModality = p.uvModality;
    if (p.certifications) info.certifications = { ...p.certifications };
    if (p.remainingDiscoverableCredentials !== undefined) {
      const used = this.#state.credentials.filter((c) => c.discoverable).length;
      info.remainingDiscoverableCredentials = Math.max(0, p.remainingDiscoverableCredentials - used);
    }
    return info;
  }

  // ---------------------------------------------------------------- clientPIN (CTAP 2.1 §6.5.5)

  #protocol(version: number | undefined): PinUvAuthProtocol {
    if (version === undefined) return fail(CtapStatus.MISSING_PARAMETER);
    const p = this.#protocols.get(version as 1 | 2);
    return p ?? fail(CtapStatus.INVALID_PARAMETER);
  }

  /** The protocol's key-agreement key, generated on first use after power-up or a mismatch. */
  #keyAgreement(proto: PinUvAuthProtocol): KeyAgreementKeyPair {
    let k = this.#rt.keyAgreement.get(proto.version);
    if (!k) {
      k = proto.generateKeyPair();
      this.#rt.keyAgreement.set(proto.version, k);
    }
    return k;
  }

  #clearKeyAgreement(): void {
    for (const k of this.#rt.keyAgreement.values()) k.privateKey.wipe();
    this.#rt.keyAgreement.clear();
  }

  /** Decapsulates the platform key into the shared secret; a point off the curve is INVALID_PARAMETER. */
  #shared(proto: PinUvAuthProtocol, platformKey: CoseEc2PublicKey | undefined): SecretBytes {
    if (!platformKey) return fail(CtapStatus.MISSING_PARAMETER);
    try {
      return proto.decapsulate(this.#keyAgreement(proto), platformKey);
    } catch {
      return fail(CtapStatus.INVALID_PARAMETER);
    }
  }

  /** Decrypts, or null when the ciphertext length is invalid. */
  #decrypt(proto: PinUvAuthProtocol, shared: SecretBytes, ct: Uint8Array): SecretBytes | null {
    try {
      return proto.decrypt(shared, ct);
    } catch {
      return null;
    }
  }

  #clientPin(req: ClientPinRequest): ClientPinResponse {
    const S = ClientPinSubcommand;
    const opts = this.profile.getInfo.options ?? {};
    switch (req.subCommand) {
      case S.getPINRetries:
        return this.#getPinRetries();
      case S.getKeyAgreement: {
        const proto = this.#protocol(req.pinUvAuthProtocol);
        return { keyAgreement: this.#keyAgreement(proto).publicKey };
      }
      case S.setPIN:
        this.#setPin(req);
        return {};
      case S.changePIN:
        this.#changePin(req);
        return {};
      case S.getPinToken:
        // CTAP 2.1 §6.5.5.7.1: the legacy request carries no permissions or rpId.
        if (req.permissions !== undefined || req.rpId !== undefined) return fail(CtapStatus.INVALID_PARAMETER);
        return this.#getPinToken(req, PinUvAuthPermission.makeCredential | PinUvAuthPermission.getAssertion, undefined);
      case S.getPinUvAuthTokenUsingPinWithPermissions: {
        if (!opts.pinUvAuthToken) return fail(CtapStatus.INVALID_SUBCOMMAND);
        if (req.permissions === undefined) return fail(CtapStatus.MISSING_PARAMETER);
        // OpenSK rejects permissions == 0 (fido.md §4).
        if (req.permissions === 0) return fail(CtapStatus.INVALID_PARAMETER);
        this.#checkPermissionsSupported(req.permissions);
        return this.#getPinToken(req, req.permissions, req.rpId);
      }
      case S.getUVRetries:
      case S.getPinUvAuthTokenUsingUvWithPermissions:
        // No built-in user verification on these profiles (options.uv absent or false).
        return fail(CtapStatus.INVALID_SUBCOMMAND);
      default:
        return fail(CtapStatus.INVALID_SUBCOMMAND);
    }
  }

  #getPinRetries(): ClientPinResponse {
    const b = this.profile.behaviour;
    // fido.md §14.3: YubiKeys answer PIN_NOT_SET when no PIN is set; others report the counter.
    if (this.#state.pinHash === null && b.pinRetriesWithoutPin === 'error-0x35') return fail(CtapStatus.PIN_NOT_SET);
    const res: ClientPinResponse = { pinRetries: this.#state.pinRetries };
    // CTAP 2.1 §6.5.5.4: powerCycleState true when 3 consecutive mismatches need a power cycle.
    if (b.powerCycleState === 'reported') res.powerCycleState = this.#rt.consecutiveMismatches >= 3;
    return res;
  }

  #permissionMask(): number {
    const o = this.profile.getInfo.options ?? {};
    const P = PinUvAuthPermission;
    let m = P.makeCredential | P.getAssertion;
    if (o.credMgmt || o.credentialMgmtPreview) m |= P.credentialManagement;
    if (o.bioEnroll !== undefined) m |= P.bioEnrollment;
    if (o.largeBlobs) m |= P.largeBlobWrite;
    if (o.authnrCfg) m |= P.authenticatorConfig;
    return m;
  }

  #checkPermissionsSupported(permissions: number): void {
    // CTAP 2.1 §6.5.5.7.2: a permission for a feature the authenticator lacks is UNAUTHORIZED_PERMISSION.
    if ((permissions & ~this.#permissionMask()) !== 0) fail(CtapStatus.UNAUTHORIZED_PERMISSION);
  }

  /**
   * Decrypts and checks a new PIN (CTAP 2.1 §6.5.5.5 steps for newPinEnc; fido.md §6):
   * plaintext exactly 64 bytes (else INVALID_PARAMETER), at least one trailing NUL, at most
   * 63 bytes, valid UTF-8, at least minPINLength code points (else PIN_POLICY_VIOLATION).
   */
  #decryptNewPin(proto: PinUvAuthProtocol, shared: SecretBytes, newPinEnc: Uint8Array): Uint8Array {
    const secret = this.#decrypt(proto, shared, newPinEnc);
    if (!secret || secret.length !== PADDED_PIN_LENGTH) {
      secret?.wipe();
      return fail(CtapStatus.INVALID_PARAMETER);
    }
    const padded = secret.exposeSecret();
    let len = padded.indexOf(0);
    if (len < 0) {
      padded.fill(0);
      return fail(CtapStatus.PIN_POLICY_VIOLATION); // 64 bytes without a NUL (OpenSK)
    }
    // Everything after the PIN must be padding; a NUL inside the PIN is a policy violation.
    for (let i = len; i < padded.length; i++) {
      if (padded[i] !== 0) {
        padded.fill(0);
        return fail(CtapStatus.PIN_POLICY_VIOLATION);
      }
    }
    const pin = padded.slice(0, len);
    padded.fill(0);
    len = pin.length;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(pin);
    } catch {
      pin.fill(0);
      return fail(CtapStatus.PIN_POLICY_VIOLATION);
    }
    if (len > MAX_PIN_BYTES || [...text].length < this.#state.minPinLength) {
      pin.fill(0);
      return fail(CtapStatus.PIN_POLICY_VIOLATION);
    }
    return pin;
  }

  #setPin(req: ClientPinRequest): void {
    const proto = this.#protocol(req.pinUvAuthProtocol);
    if (!req.keyAgreement || !req.pinUvAuthParam || !req.newPinEnc) return fail(CtapStatus.MISSING_PARAMETER);
    // CTAP 2.1 §6.5.5.5: setPIN only when no PIN is set.
    if (this.#state.pinHash !== null) return fail(CtapStatus.NOT_ALLOWED);
    const shared = this.#shared(proto, req.keyAgreement);
    if (!proto.verify(shared, req.newPinEnc, req.pinUvAuthParam)) return fail(CtapStatus.PIN_AUTH_INVALID);
    const pin = this.#decryptNewPin(proto, shared, req.newPinEnc);
    shared.wipe();
    this.#storePin(pin);
    pin.fill(0);
    this.#clearToken();
    this.#save();
  }

  #changePin(req: ClientPinRequest): void {
    const proto = this.#protocol(req.pinUvAuthProtocol);
    if (!req.keyAgreement || !req.pinUvAuthParam || !req.newPinEnc || !req.pinHashEnc) return fail(CtapStatus.MISSING_PARAMETER);
    if (this.#state.pinHash === null) return fail(CtapStatus.PIN_NOT_SET);
    // fido.md §5 step 1, before anything else costs a retry.
    if (this.#state.pinRetries === 0) return fail(CtapStatus.PIN_BLOCKED);
    const shared = this.#shared(proto, req.keyAgreement);
    // CTAP 2.1 §6.5.5.6: pinUvAuthParam covers newPinEnc ‖ pinHashEnc.
    const msg = new Uint8Array(req.newPinEnc.length + req.pinHashEnc.length);
    msg.set(req.newPinEnc, 0);
    msg.set(req.pinHashEnc, req.newPinEnc.length);
    if (!proto.verify(shared, msg, req.pinUvAuthParam)) return fail(CtapStatus.PIN_AUTH_INVALID);
    this.#pinAttempt(proto, shared, req.pinHashEnc);
    const pin = this.#decryptNewPin(proto, shared, req.newPinEnc);
    shared.wipe();
    // DESIGN.md §3 / CTAP 2.1 §6.5.5.6: while forcePINChange is set the new PIN must differ.
    if (this.#state.forcePinChange && timingSafeEqualBytes(pinHash16(pin), this.#state.pinHash!)) {
      pin.fill(0);
      return fail(CtapStatus.PIN_POLICY_VIOLATION);
    }
    this.#storePin(pin);
    pin.fill(0);
    this.#state.forcePinChange = false;
    this.#clearToken();
    this.#save();
  }

  /**
   * One PIN attempt, in the order of fido.md §5 (OpenSK `check_pin_hash_enc`):
   * 1. retries 0 → PIN_BLOCKED; 2. 3 consecutive mismatches since power-up → PIN_AUTH_BLOCKED;
   * 3. decrement retries BEFORE comparing (persisted, so pulling the key mid-attempt still
   * costs the try); 4. mismatch → regenerate the key-agreement key, then PIN_BLOCKED at 0,
   * PIN_AUTH_BLOCKED (or the profile's status) at 3 consecutive, else PIN_INVALID;
   * 5. match → retries back to max, mismatches 0.
   */
  #pinAttempt(proto: PinUvAuthProtocol, shared: SecretBytes, pinHashEnc: Uint8Array): void {
    if (this.#state.pinRetries === 0) fail(CtapStatus.PIN_BLOCKED);
    if (this.#rt.consecutiveMismatches >= 3) fail(CtapStatus.PIN_AUTH_BLOCKED);
    this.#state.pinRetries--;
    this.#save();
    const hash = this.#decrypt(proto, shared, pinHashEnc);
    const ok = hash !== null && hash.length === 16 && timingSafeEqualBytes(hash.exposeSecret(), this.#state.pinHash!);
    hash?.wipe();
    if (!ok) {
      shared.wipe();
      // CTAP 2.1 §6.5.5.6 step: "regenerate the key agreement key" after a mismatch, so the
      // platform must call getKeyAgreement again (fido.md §5 "After 0x31").
      this.#clearKeyAgreement();
      this.#rt.consecutiveMismatches++;
      if (this.#state.pinRetries === 0) fail(CtapStatus.PIN_BLOCKED);
      if (this.#rt.consecutiveMismatches >= 3) fail(this.profile.behaviour.thirdWrongPinStatus);
      fail(CtapStatus.PIN_INVALID);
    }
    this.#state.pinRetries = this.profile.behaviour.maxPinRetries;
    this.#rt.consecutiveMismatches = 0;
    this.#save();
  }

  #getPinToken(req: ClientPinRequest, permissions: number, rpId: string | undefined): ClientPinResponse {
    const proto = this.#protocol(req.pinUvAuthProtocol);
    if (!req.keyAgreement || !req.pinHashEnc) return fail(CtapStatus.MISSING_PARAMETER);
    if (this.#state.pinHash === null) return fail(CtapStatus.PIN_NOT_SET);
    if (this.#state.pinRetries === 0) return fail(CtapStatus.PIN_BLOCKED);
    const shared = this.#shared(proto, req.keyAgreement);
    this.#pinAttempt(proto, shared, req.pinHashEnc);
    // CTAP 2.1 §6.5.5.7: with forcePINChange set, a correct PIN still gets no token
    // (0x37 per spec and Chromium; OpenSK answers 0x31, fido.md §14.2).
    if (this.#state.forcePinChange) {
      shared.wipe();
      return fail(this.profile.behaviour.forcePinChangeTokenStatus);
    }
    this.#clearToken();
    const bytes = new SecretBytes(this.env.random(32));
    this.#rt.token = { bytes, protocol: proto.version, permissions, rpId, issuedAt: this.env.clock() };
    const enc = proto.encrypt(shared, bytes.exposeSecret());
    shared.wipe();
    return { pinUvAuthToken: enc };
  }

  #clearToken(): void {
    this.#rt.token?.bytes.wipe();
    this.#rt.token = null;
  }

  /**
   * Verifies `pinUvAuthParam` over `message` with the current token and checks its
   * permission and RP binding (CTAP 2.1 §6.1.2 step 11, §6.5.5.7). Binds an unbound token
   * to `rpId` on first use.
   */
  #checkToken(protocolVersion: number | undefined, param: Uint8Array, message: Uint8Array, permission: number, rpId?: string): void {
    const proto = this.#protocol(protocolVersion);
    const t = this.#rt.token;
    if (!t || t.protocol !== proto.version || this.env.clock() - t.issuedAt > this.#tokenLifetimeMs) return fail(CtapStatus.PIN_AUTH_INVALID);
    if (!proto.verify(t.bytes, message, param)) return fail(CtapStatus.PIN_AUTH_INVALID);
    if ((t.permissions & permission) === 0) return fail(CtapStatus.UNAUTHORIZED_PERMISSION);
    if (rpId !== undefined) {
      if (t.rpId !== undefined && t.rpId !== rpId) return fail(CtapStatus.UNAUTHORIZED_PERMISSION);
      t.rpId = rpId;
    }
  }

  // ---------------------------------------------------------------- authenticatorConfig (CTAP 2.1 §6.11)

  #config(req: ConfigRequest): void {
    const pinSet = this.#state.pinHash !== null;
    if (pinSet || req.pinUvAuthParam) {
      if (!req.pinUvAuthParam) return fail(CtapStatus.PUAT_REQUIRED);
      this.#checkToken(req.pinUvAuthProtocol, req.pinUvAuthParam, configAuthMessage(req.subCommand, req.subCommandParams), PinUvAuthPermission.authenticatorConfig);
    }
    if (req.subCommand !== ConfigSubcommand.setMinPINLength || !this.profile.getInfo.options?.setMinPINLength) return fail(CtapStatus.INVALID_SUBCOMMAND);
    const p = decodeSetMinPinLengthParams(req.subCommandParams ?? new Map());
    const next = p.newMinPINLength ?? this.#state.minPinLength;
    // CTAP 2.1 §6.11.4: the minimum can only grow.
    if (next < this.#state.minPinLength) return fail(CtapStatus.PIN_POLICY_VIOLATION);
    const maxRpIds = this.profile.getInfo.maxRPIDsForSetMinPINLength ?? 0;
    if (p.minPinLengthRPIDs && p.minPinLengthRPIDs.length > maxRpIds) return fail(CtapStatus.PIN_POLICY_VIOLATION);
    if (p.forceChangePin && !pinSet) return fail(CtapStatus.PIN_NOT_SET);
    this.#state.minPinLength = next;
    // A PIN shorter than the new minimum must be changed (CTAP 2.1 §6.11.4).
    if (pinSet && (p.forceChangePin || this.#state.pinCodePoints < next)) this.#state.forcePinChange = true;
    this.#save();
  }

  // ---------------------------------------------------------------- reset (CTAP 2.1 §6.6)

  async #reset(o: HandleOptions): Promise<void> {
    // fido.md §10: only within the window after power-up (Yubico 5 s, others 10 s).
    if (this.env.clock() - this.#rt.poweredAt > this.profile.behaviour.resetWindowMs) fail(CtapStatus.NOT_ALLOWED);
    await this.#requireUserPresence('authenticatorReset', o, CtapStatus.ACTION_TIMEOUT);
    for (const c of this.#state.credentials) c.privateKeyPkcs8.fill(0);
    this.#state = this.#factoryState();
    this.#clearToken();
    this.#rt.consecutiveMismatches = 0;
    this.#clearKeyAgreement();
    this.#rt.assertions = null;
    this.#save();
  }

  // ---------------------------------------------------------------- user presence

  async #requireUserPresence(command: string, o: HandleOptions, timeoutStatus: number): Promise<void> {
    o.onKeepalive?.(2);
    let r: UserPresenceResult;
    try {
      r = await this.env.userPresence({ command, timeoutMs: this.#upTimeoutMs, ...(o.signal ? { signal: o.signal } : {}) });
    } finally {
      o.onKeepalive?.(1);
    }
    if (r === 'denied') fail(CtapStatus.OPERATION_DENIED);
    if (r === 'timeout') fail(timeoutStatus);
  }

  /**
   * A zero-length pinUvAuthParam (CTAP 2.1 §6.1.2 step 1; the CTAP 2.0 way to select a key):
   * wait for touch, then PIN_NOT_SET or PIN_INVALID.
   */
  async #zeroLengthPinAuth(command: string, o: HandleOptions): Promise<never> {
    await this.#requireUserPresence(command, o, CtapStatus.USER_ACTION_TIMEOUT);
    return fail(this.#state.pinHash === null ? CtapStatus.PIN_NOT_SET : CtapStatus.PIN_INVALID);
  }

  // ---------------------------------------------------------------- makeCredential (CTAP 2.1 §6.1)

  async #makeCredential(req: MakeCredentialRequest, o: HandleOptions): Promise<MakeCredentialResponse> {
    if (req.pinUvAuthParam && req.pinUvAuthParam.length === 0) return this.#zeroLengthPinAuth('authenticatorMakeCredential', o);
    if (req.pinUvAuthParam) this.#protocol(req.pinUvAuthProtocol);
    if (req.clientDataHash.length !== 32) return fail(CtapStatus.INVALID_PARAMETER);
    if (!req.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === CoseAlgorithm.ES256)) return fail(CtapStatus.UNSUPPORTED_ALGORITHM);
    const opt = req.options ?? {};
    if (opt.up === false) return fail(CtapStatus.INVALID_OPTION);
    if (opt.uv === true && !req.pinUvAuthParam) return fail(CtapStatus.INVALID_OPTION); // no built-in UV
    const rk = opt.rk === true;
    if (rk && !this.profile.getInfo.options?.rk) return fail(CtapStatus.UNSUPPORTED_OPTION);
    let uv = false;
    if (req.pinUvAuthParam) {
      this.#checkToken(req.pinUvAuthProtocol, req.pinUvAuthParam, req.clientDataHash, PinUvAuthPermission.makeCredential, req.rp.id);
      uv = true;
    } else if (this.#state.pinHash !== null) {
      // CTAP 2.1 §6.1.2 step 6: with a PIN set, only non-discoverable credentials under
      // makeCredUvNotRqd may skip the token.
      if (rk || !this.profile.getInfo.options?.makeCredUvNotRqd) return fail(CtapStatus.PUAT_REQUIRED);
    }
    for (const d of req.excludeList ?? []) {
      if (this.#state.credentials.some((c) => c.rpId === req.rp.id && bytesEqual(c.id, d.id))) {
        await this.#requireUserPresence('authenticatorMakeCredential', o, CtapStatus.USER_ACTION_TIMEOUT);
        return fail(CtapStatus.CREDENTIAL_EXCLUDED);
      }
    }
    await this.#requireUserPresence('authenticatorMakeCredential', o, CtapStatus.USER_ACTION_TIMEOUT);
    // The token's user-present flag is consumed (CTAP 2.1 §6.5.2.2); the simulator keeps the token.

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cred: StoredCredential = {
      id: this.env.random(32),
      rpId: req.rp.id,
      privateKeyPkcs8: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
      publicX: fromBase64Url(jwk.x!),
      publicY: fromBase64Url(jwk.y!),
      discoverable: rk,
      signCount: 0,
      createdAt: this.env.clock(),
      ...(rk ? { userId: req.user.id } : {}),
      ...(rk && req.user.name !== undefined ? { userName: req.user.name } : {}),
      ...(rk && req.user.displayName !== undefined ? { userDisplayName: req.user.displayName } : {}),
    };
    if (rk) {
      // One discoverable credential per (rpId, user.id): a new one replaces the old (CTAP 2.1 §6.1.2 step 16).
      this.#state.credentials = this.#state.credentials.filter((c) => !(c.discoverable && c.rpId === cred.rpId && c.userId && bytesEqual(c.userId, req.user.id)));
    }
    this.#state.credentials.push(cred);
    const signCount = ++this.#state.signCount;
    cred.signCount = signCount;
    this.#save();

    const authData = encodeAuthData({
      rpIdHash: sha256(new TextEncoder().encode(req.rp.id)),
      flags: AuthDataFlag.UP | (uv ? AuthDataFlag.UV : 0),
      signCount,
      attestedCredentialData: { aaguid: this.#aaguid, credentialId: cred.id, publicKey: credentialCoseKey(cred) },
    });
    if (this.#attestation === 'none') return { fmt: 'none', authData, attStmt: new Map() };
    // Packed self attestation (WebAuthn L2 §8.2): signed with the credential key itself, no x5c.
    const sig = ecdsaSign(privateKey, concat(authData, req.clientDataHash));
    const attStmt: CborMap = new Map<string, CborValue>([
      ['alg', CoseAlgorithm.ES256],
      ['sig', sig],
    ]);
    return { fmt: 'packed', authData, attStmt };
  }

  // ---------------------------------------------------------------- getAssertion (CTAP 2.1 §6.2)

  async #getAssertion(req: GetAssertionRequest, o: HandleOptions): Promise<GetAssertionResponse> {
    if (req.pinUvAuthParam && req.pinUvAuthParam.length === 0) return this.#zeroLengthPinAuth('authenticatorGetAssertion', o);
    if (req.pinUvAuthParam) this.#protocol(req.pinUvAuthProtocol);
    if (req.clientDataHash.length !== 32) return fail(CtapStatus.INVALID_PARAMETER);
    const opt = req.options ?? {};
    if (opt.rk !== undefined) return fail(CtapStatus.UNSUPPORTED_OPTION);
    if (opt.uv === true && !req.pinUvAuthParam) return fail(CtapStatus.INVALID_OPTION);
    let uv = false;
    if (req.pinUvAuthParam) {
      this.#checkToken(req.pinUvAuthProtocol, req.pinUvAuthParam, req.clientDataHash, PinUvAuthPermission.getAssertion, req.rpId);
      uv = true;
    }
    const allow = req.allowList ?? [];
    let creds: StoredCredential[];
    if (allow.length > 0) {
      creds = this.#state.credentials.filter((c) => c.rpId === req.rpId && allow.some((d) => bytesEqual(d.id, c.id)));
      creds = creds.slice(0, 1);
    } else {
      creds = this.#state.credentials.filter((c) => c.rpId === req.rpId && c.discoverable).sort((a, b) => b.createdAt - a.createdAt);
    }
    if (creds.length === 0) return fail(CtapStatus.NO_CREDENTIALS);
    const up = opt.up !== false;
    if (up) await this.#requireUserPresence('authenticatorGetAssertion', o, CtapStatus.USER_ACTION_TIMEOUT);
    const flags = (up ? AuthDataFlag.UP : 0) | (uv ? AuthDataFlag.UV : 0);
    const first = this.#assert(creds[0]!, req.rpId, req.clientDataHash, flags, uv, allow.length === 0);
    if (allow.length === 0 && creds.length > 1) {
      first.numberOfCredentials = creds.length;
      this.#rt.assertions = {
        rpId: req.rpId,
        clientDataHash: new Uint8Array(req.clientDataHash),
        flags,
        uv,
        credentials: creds.slice(1),
        expiresAt: this.env.clock() + 30_000,
      };
    } else this.#rt.assertions = null;
    return first;
  }

  #getNextAssertion(): GetAssertionResponse {
    const q = this.#rt.assertions;
    // CTAP 2.1 §6.3: no pending list, or its 30 s timer ran out → NOT_ALLOWED.
    if (!q || q.credentials.length === 0 || this.env.clock() > q.expiresAt) {
      this.#rt.assertions = null;
      return fail(CtapStatus.NOT_ALLOWED);
    }
    const cred = q.credentials.shift()!;
    q.expiresAt = this.env.clock() + 30_000;
    return this.#assert(cred, q.rpId, q.clientDataHash, q.flags, q.uv, true);
  }

  #assert(cred: StoredCredential, rpId: string, clientDataHash: Uint8Array, flags: number, uv: boolean, withUser: boolean): GetAssertionResponse {
    const signCount = ++this.#state.signCount;
    cred.signCount = signCount;
    this.#save();
    const authData = encodeAuthData({ rpIdHash: sha256(new TextEncoder().encode(rpId)), flags, signCount });
    const key = createPrivateKey({ key: Buffer.from(cred.privateKeyPkcs8), format: 'der', type: 'pkcs8' });
    const signature = ecdsaSign(key, concat(authData, clientDataHash));
    const res: GetAssertionResponse = { credential: { type: 'public-key', id: cred.id }, authData, signature };
    if (withUser && cred.discoverable && cred.userId) {
      // CTAP 2.1 §6.2.2: user name and display name only after user verification.
      res.user = {
        id: cred.userId,
        ...(uv && cred.userName !== undefined ? { name: cred.userName } : {}),
        ...(uv && cred.userDisplayName !== undefined ? { displayName: cred.userDisplayName } : {}),
      };
    }
    return res;
  }

  // ---------------------------------------------------------------- state helpers

  #factoryState(): PersistentState {
    return {
      pinHash: null,
      pinCodePoints: 0,
      pinRetries: this.profile.behaviour.maxPinRetries,
      minPinLength: this.profile.getInfo.minPINLength ?? DEFAULT_MIN_PIN_LENGTH,
      forcePinChange: false,
      credentials: [],
      signCount: 0,
    };
  }

  #freshRuntime(): RuntimeState {
    return { poweredAt: this.env.clock(), consecutiveMismatches: 0, keyAgreement: new Map(), token: null, assertions: null };
  }

  #storePin(pin: Uint8Array): void {
    this.#state.pinHash = pinHash16(pin);
    this.#state.pinCodePoints = [...new TextDecoder().decode(pin)].length;
    this.#state.pinRetries = this.profile.behaviour.maxPinRetries;
    this.#rt.consecutiveMismatches = 0;
  }

  #save(): void {
    this.env.storage.save(this.#state);
  }
}

function decode<Req>(codec: CtapCommand<Req, unknown>, params: Uint8Array): Req {
  return codec.decodeRequest(params);
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** LEFT(SHA-256(pin), 16): what clientPIN compares (CTAP 2.1 §6.5.5.5). */
function pinHash16(pin: Uint8Array): Uint8Array {
  return sha256(pin).slice(0, 16);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function ecdsaSign(key: KeyObject, data: Uint8Array): Uint8Array {
  // DER-encoded ECDSA signature, as WebAuthn expects for ES256.
  return new Uint8Array(cryptoSign('sha256', data, key));
}

function credentialCoseKey(c: StoredCredential): CborMap {
  return new Map<number, CborValue>([
    [CoseKeyLabel.kty, CoseKeyType.EC2],
    [CoseKeyLabel.alg, CoseAlgorithm.ES256],
    [CoseKeyLabel.crv, CoseCurve.P256],
    [CoseKeyLabel.x, c.publicX],
    [CoseKeyLabel.y, c.publicY],
  ]);
}
