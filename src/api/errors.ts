/**
 * The agent API's error vocabulary (DESIGN.md §5). JSON-RPC error objects: the numeric `code`
 * follows JSON-RPC 2.0 (and LSP for -32800); `data.code` is the stable string a UI acts on,
 * with details (`retriesLeft`, `rule`, `ctapStatus`) beside it.
 */

/** JSON-RPC 2.0 numeric error codes used by the agent. */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** Every device or policy outcome; `data.code` says which. */
  SERVER_ERROR: -32000,
  /** LSP's RequestCancelled: the request was cancelled (`$/cancelRequest`, connection closed). */
  REQUEST_CANCELLED: -32800,
} as const;

/**
 * Stable string codes in `error.data.code`. FIDO outcomes come from the FIDO client unchanged
 * (PIN_INVALID, ..., `CTAP_<NAME>` for other device statuses); the agent adds its own.
 */
export const ApiErrorCode = {
  // FIDO / device outcomes
  PIN_INVALID: 'PIN_INVALID',
  PIN_SOFT_BLOCKED: 'PIN_SOFT_BLOCKED',
  PIN_BLOCKED: 'PIN_BLOCKED',
  PIN_NOT_SET: 'PIN_NOT_SET',
  PIN_ALREADY_SET: 'PIN_ALREADY_SET',
  PIN_REQUIRED: 'PIN_REQUIRED',
  PIN_POLICY_VIOLATION: 'PIN_POLICY_VIOLATION',
  CONFIRMATION_REQUIRED: 'CONFIRMATION_REQUIRED',
  UV_BLOCKED: 'UV_BLOCKED',
  OPERATION_DENIED: 'OPERATION_DENIED',
  RESET_NOT_ALLOWED: 'RESET_NOT_ALLOWED',
  UNSUPPORTED: 'UNSUPPORTED',
  DEVICE_NOT_FOUND: 'DEVICE_NOT_FOUND',
  DEVICE_REMOVED: 'DEVICE_REMOVED',
  DEVICE_BUSY: 'DEVICE_BUSY',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CANCELLED',
  // agent outcomes
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_INITIALIZED: 'NOT_INITIALIZED',
  INVALID_PARAMS: 'INVALID_PARAMS',
  INVALID_REQUEST: 'INVALID_REQUEST',
  PARSE_ERROR: 'PARSE_ERROR',
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  RP_ID_NOT_ALLOWED: 'RP_ID_NOT_ALLOWED',
  RATE_LIMITED: 'RATE_LIMITED',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  DUPLICATE_ID: 'DUPLICATE_ID',
  INTERNAL: 'INTERNAL',
} as const;
export type ApiErrorCodeName = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** `error.data` of every agent error. */
export interface ApiErrorData {
  /** Stable string code (see `ApiErrorCode`; `CTAP_<NAME>` for other device statuses). */
  code: string;
  /** CTAP2 status byte when a device gave one. */
  ctapStatus?: number;
  /** Its spec name (`PIN_INVALID`, `0xNN` for unnamed codes), whenever `ctapStatus` is present. */
  ctapStatusName?: string;
  /** PIN attempts left after the attempt (PIN_INVALID, PIN_SOFT_BLOCKED, CONFIRMATION_REQUIRED). */
  retriesLeft?: number | null;
  /** The rule broken (PIN_POLICY_VIOLATION). */
  rule?: string;
  /** For RATE_LIMITED: when the next attempt is allowed. */
  retryAfterMs?: number;
  /** For INVALID_PARAMS / INVALID_REQUEST: schema errors (paths and messages, never values). */
  errors?: Array<{ path: string; message: string }>;
  [key: string]: unknown;
}

/** A JSON-RPC error object as the agent sends it. */
export interface RpcError {
  code: number;
  message: string;
  data?: ApiErrorData;
}
