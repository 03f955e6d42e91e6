/**
 * TypeScript types of the agent's wire protocol (JSON-RPC 2.0, subprotocol `keytap.v1`).
 * They match the JSON Schemas in `schema.ts`; the server validates every inbound message
 * against those schemas before it reaches the broker. Binary values are base64url strings
 * (no padding), except card UIDs and ATRs, which are hex.
 */
import type { Role, Topic } from './constants.ts';
import type { RpcError } from './errors.ts';

/** A base64url string (RFC 4648 §5, no padding). */
export type Base64Url = string;

// ---------- JSON-RPC envelope ----------
export type RpcId = string | number;
export interface RpcRequest<P = unknown> {
  jsonrpc: '2.0';
  id: RpcId;
  method: string;
  params?: P;
}
export interface RpcNotification<P = unknown> {
  jsonrpc: '2.0';
  method: string;
  params?: P;
}
export interface RpcSuccess<R = unknown> {
  jsonrpc: '2.0';
  id: RpcId;
  result: R;
}
export interface RpcFailure {
  jsonrpc: '2.0';
  id: RpcId | null;
  error: RpcError;
}
export type RpcResponse<R = unknown> = RpcSuccess<R> | RpcFailure;

// ---------- shared shapes ----------
/** A device as `devices.list` and the device events show it. `id` is stable across replug where the hardware allows. */
export interface DeviceDescriptor {
  id: string;
  kind: 'authenticator' | 'reader';
  /** `usb`, `nfc`, `udp`, `virtual` for authenticators; `pcsc`, `serial`, `hid`, `virtual` for readers. */
  transport: string;
  name: string;
  /** True for simulator devices (`--simulate`). */
  simulated?: boolean;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  /** Extra, kind-specific facts (reader capabilities, profile name, ...). */
  [key: string]: unknown;
}

/** `no-pin`: none set; `ok`: usable; `change-required`: forcePINChange; `soft-blocked`: re-insert; `blocked`: reset only. */
export type PinState = 'no-pin' | 'ok' | 'change-required' | 'soft-blocked' | 'blocked';

/** A key's PIN state: `fido.pin.status` result and the `status` of `fido.pin.changed`. */
export interface PinStatusResult {
  state: PinState;
  /** PIN attempts left before the hard lock; null when no PIN is set (retries are not polled then). */
  retriesLeft: number | null;
  /** The device maximum (8 per CTAP 2.0/2.1; read from the device when it says so). */
  maxRetries: number;
  /** True when the key must be removed and re-inserted before the next PIN attempt (soft lock). */
  powerCycleRequired: boolean;
  /** Built-in UV (fingerprint) attempts left, where the key has UV. */
  uvRetriesLeft?: number;
  /** Minimum PIN length in code points: max(4, getInfo minPINLength). */
  minLength: number;
  /** Maximum PIN length in UTF-8 bytes: min(63, getInfo maxPINLength). */
  maxLength: number;
}

export type ProgressStatus = 'touch-needed' | 'processing' | 'insert-key' | 'remove-key';

/** Every device method takes these. */
export interface DeviceParams {
  device: string;
  /** The request's whole budget in ms, including time spent waiting in the device's queue (default 30000, max 300000). */
  timeoutMs?: number;
}

// ---------- methods ----------
export interface InitializeParams {
  clientInfo?: { name: string; version?: string };
  /** Bearer token, for browsers (which cannot set an Authorization header on a WebSocket). */
  token?: string;
  protocolVersion?: string;
}
export interface InitializeResult {
  version: string;
  protocolVersion: string;
  role: Role;
  capabilities: { methods: string[]; topics: readonly Topic[]; transports: string[]; limits: { maxMessageBytes: number; maxPendingRequests: number } };
  /** Which connection this is, as the audit log names it. */
  connectionId: string;
}

export interface DevicesListResult {
  devices: DeviceDescriptor[];
}

export type FidoInfoParams = DeviceParams;
/** getInfo, with byte strings as base64url and CBOR maps as objects. */
export type FidoInfoResult = Record<string, unknown>;

export type PinStatusParams = DeviceParams;
export interface PinSetParams extends DeviceParams {
  newPin: string;
}
export interface PinChangeParams extends DeviceParams {
  currentPin: string;
  newPin: string;
  confirmLastAttempt?: boolean;
}
export interface PinVerifyParams extends DeviceParams {
  pin: string;
  confirmLastAttempt?: boolean;
}
export interface ResetParams extends DeviceParams {
  /**
   * Guide the user through the power-up window (default false): the agent sends
   * `request.progress` remove-key, waits for the key to go, insert-key, waits for the same key
   * (same id) to come back, then resets at once. The whole wait counts against `timeoutMs`.
   */
  guided?: boolean;
}
export type WinkParams = DeviceParams;

export interface UserEntity {
  id: Base64Url;
  name?: string;
  displayName?: string;
}
export interface MakeCredentialParams extends DeviceParams {
  rpId: string;
  rp?: { id?: string; name?: string };
  clientDataHash: Base64Url;
  user: UserEntity;
  pin?: string;
  residentKey?: boolean;
  userVerification?: boolean;
  excludeList?: Base64Url[];
  algorithms?: number[];
}
export interface MakeCredentialResult {
  fmt: string;
  authData: Base64Url;
  attStmt: Record<string, unknown>;
  credentialId: Base64Url;
  publicKey: Record<string, unknown>;
}
export interface GetAssertionParams extends DeviceParams {
  rpId: string;
  clientDataHash: Base64Url;
  allowCredentials?: Base64Url[];
  pin?: string;
  userVerification?: boolean;
}
export interface AssertionResult {
  credentialId: Base64Url;
  authData: Base64Url;
  signature: Base64Url;
  user?: UserEntity;
  numberOfCredentials?: number;
}
export interface GetAssertionResult {
  assertions: AssertionResult[];
}

export interface SubscribeParams {
  topics?: Topic[];
}
export interface SubscribeResult {
  topics: Topic[];
}
export interface CancelParams {
  id: RpcId;
}

/** Method name → [params, result]. */
export interface MethodMap {
  initialize: [InitializeParams, InitializeResult];
  'devices.list': [Record<string, never> | undefined, DevicesListResult];
  'fido.info': [FidoInfoParams, FidoInfoResult];
  'fido.pin.status': [PinStatusParams, PinStatusResult];
  'fido.pin.set': [PinSetParams, PinStatusResult];
  'fido.pin.change': [PinChangeParams, PinStatusResult];
  'fido.pin.verify': [PinVerifyParams, PinStatusResult];
  'fido.reset': [ResetParams, PinStatusResult];
  'fido.makeCredential': [MakeCredentialParams, MakeCredentialResult];
  'fido.getAssertion': [GetAssertionParams, GetAssertionResult];
  'fido.wink': [WinkParams, Record<string, never>];
  'events.subscribe': [SubscribeParams | undefined, SubscribeResult];
  'events.unsubscribe': [SubscribeParams | undefined, SubscribeResult];
  '$/cancelRequest': [CancelParams, { cancelled: boolean }];
  'config.get': [Record<string, never> | undefined, Record<string, unknown>];
}
export type MethodName = keyof MethodMap;

// ---------- notifications ----------
export interface DeviceEventParams {
  device: DeviceDescriptor;
}
export interface PinChangedParams {
  device: string;
  /** What happened: `set`, `change` or `reset`. */
  cause: 'set' | 'change' | 'reset';
  status: PinStatusResult;
}
export interface ProgressParams {
  /** The id of the request this progress belongs to. */
  id: RpcId;
  status: ProgressStatus;
}
export interface CardEventParams {
  reader: string;
  /** Card UID, hex (also in `card.uid`). */
  uid?: string;
  /** ATR hex ('' for serial/HID readers). */
  atr?: string;
  /** Card name from the PC/SC part 3 ATR table ("MIFARE Classic 1K"), "EM4100", ... */
  cardType?: string;
  card: { uid: string; atr?: string; type?: string; [key: string]: unknown };
}

/** Notification name → params. */
export interface NotificationMap {
  'device.attached': DeviceEventParams;
  'device.detached': DeviceEventParams;
  'device.changed': DeviceEventParams;
  'card.present': CardEventParams;
  'card.removed': CardEventParams;
  'fido.pin.changed': PinChangedParams;
  'request.progress': ProgressParams;
}
export type NotificationName = keyof NotificationMap;
