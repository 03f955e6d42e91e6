/**
 * Maps thrown errors to JSON-RPC error objects (DESIGN.md §5): JSON-RPC codes for protocol
 * errors, -32800 for cancelled requests, -32000 for every device or policy outcome with
 * `data.code` and the error's details (`retriesLeft`, `rule`, `ctapStatus`). Errors that are
 * not `KeytapError`s are bugs: they become -32603 with a generic message (nothing internal leaks).
 */
import { KeytapError } from '../protocol/errors.ts';
import { ctapStatusName } from '../protocol/ctap2/status.ts';
import { RpcErrorCode, type RpcError, type ApiErrorData } from '../api/errors.ts';

const NUMERIC: Record<string, number> = {
  PARSE_ERROR: RpcErrorCode.PARSE_ERROR,
  INVALID_REQUEST: RpcErrorCode.INVALID_REQUEST,
  DUPLICATE_ID: RpcErrorCode.INVALID_REQUEST,
  METHOD_NOT_FOUND: RpcErrorCode.METHOD_NOT_FOUND,
  INVALID_PARAMS: RpcErrorCode.INVALID_PARAMS,
  CANCELLED: RpcErrorCode.REQUEST_CANCELLED,
};

export function toRpcError(err: unknown): RpcError {
  if (err instanceof KeytapError) {
    const data: ApiErrorData = { ...safeDetails(err.details), code: err.code };
    // Every device status carries its spec name too, however deep in the stack it was raised.
    if (typeof data.ctapStatus === 'number' && data.ctapStatusName === undefined) data.ctapStatusName = ctapStatusName(data.ctapStatus);
    return { code: NUMERIC[err.code] ?? RpcErrorCode.SERVER_ERROR, message: err.message, data };
  }
  return { code: RpcErrorCode.INTERNAL_ERROR, message: 'internal error', data: { code: 'INTERNAL' } };
}

/** Details are documented as secret-free; still, only JSON-safe scalars and small arrays/objects pass. */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'bigint' || v instanceof Uint8Array) continue;
    out[k] = v;
  }
  try {
    return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
