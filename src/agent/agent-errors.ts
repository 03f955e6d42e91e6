/**
 * The agent's own errors (authentication, authorisation, limits, request validation), all
 * `KeytapError`s with stable codes that travel to `error.data.code` (DESIGN.md §5).
 */
import { KeytapError } from '../protocol/errors.ts';

type Opts = { cause?: unknown; details?: Record<string, unknown> };

/** No valid token yet (TCP), or a wrong token. Only `initialize` is answered until one is seen. */
export class UnauthorizedError extends KeytapError {
  constructor(message = 'not authorised: call initialize with a valid token (or send Authorization: Bearer <token>)', options?: Opts) {
    super('UNAUTHORIZED', message, options);
  }
}

/** The connection's role may not call this method (e.g. `fido.reset` needs `admin`). */
export class ForbiddenError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('FORBIDDEN', message, options);
  }
}

/** A method other than `initialize` before `initialize`. */
export class NotInitializedError extends KeytapError {
  constructor(options?: Opts) {
    super('NOT_INITIALIZED', 'call initialize first', options);
  }
}

/** Params that fail the method's JSON Schema, or fail a semantic check (bad base64url, ...). */
export class InvalidParamsError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('INVALID_PARAMS', message, options);
  }
}

/** Not a JSON-RPC 2.0 request object (wrong envelope, duplicate id, binary frame). */
export class InvalidRequestError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('INVALID_REQUEST', message, options);
  }
}

/** The message is not JSON. */
export class ParseError extends KeytapError {
  constructor(message = 'message is not valid JSON', options?: Opts) {
    super('PARSE_ERROR', message, options);
  }
}

/** No such method (or not available to this agent's configuration). */
export class MethodNotFoundError extends KeytapError {
  constructor(method: string, options?: Opts) {
    super('METHOD_NOT_FOUND', `unknown method ${JSON.stringify(method.slice(0, 64))}`, options);
  }
}

/** No device with that id (never attached, or detached). */
export class DeviceNotFoundError extends KeytapError {
  constructor(id: string, options?: Opts) {
    super('DEVICE_NOT_FOUND', `no device with id ${JSON.stringify(id.slice(0, 128))}: call devices.list`, options);
  }
}

/** A browser origin asked for an rpId that is neither its host nor a registrable suffix of it. */
export class RpIdNotAllowedError extends KeytapError {
  constructor(rpId: string, origin: string, options?: Opts) {
    super('RP_ID_NOT_ALLOWED', `origin ${origin} may not use rpId ${JSON.stringify(rpId)}: it must be the origin's host or a registrable suffix of it`, options);
  }
}

/** Too many PIN attempts in the window (per connection or per token). `details.retryAfterMs`. */
export class RateLimitedError extends KeytapError {
  constructor(retryAfterMs: number, scope: 'connection' | 'token', options?: Opts) {
    super('RATE_LIMITED', `too many PIN attempts on this ${scope}: wait ${Math.ceil(retryAfterMs / 1000)} s`, {
      ...options,
      details: { retryAfterMs, scope, ...options?.details },
    });
  }
}

/** Too many requests pending on this connection. */
export class TooManyRequestsError extends KeytapError {
  constructor(limit: number, options?: Opts) {
    super('TOO_MANY_REQUESTS', `at most ${limit} requests may be pending on one connection`, { ...options, details: { limit, ...options?.details } });
  }
}

/** Invalid configuration (file, environment or flags); the message names the bad key. */
export class ConfigError extends KeytapError {
  constructor(message: string, options?: Opts) {
    super('CONFIG_INVALID', message, options);
  }
}
