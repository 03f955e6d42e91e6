/**
 * Methods by name, each with its params JSON Schema (compiled once with ajv), the role it
 * needs and its handler. Other modules add methods here (H5's `sim.card.*`, H6's `sim.*`)
 * from src/main.ts without touching the dispatcher.
 */
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import type { JsonSchema } from '../api/schema.ts';
import type { Role } from '../api/constants.ts';
import type { RpcId, ProgressStatus } from '../api/types.ts';
import type { Pin } from '../protocol/secret.ts';
import type { Deadline } from '../util/deadline.ts';

/** Who is calling: what the audit log and policy checks need (no secrets). */
export interface CallerInfo {
  /** `c1`, `c2`, ... unique per agent run. */
  connectionId: string;
  role: Role;
  /** `tcp` or `unix`. */
  transport: 'tcp' | 'unix';
  /** The browser Origin header of the upgrade, when one was sent. */
  origin?: string;
  /** Non-secret name of the token (`client#0`), or `unix` for socket clients. */
  identity: string;
}

export interface MethodContext {
  caller: CallerInfo;
  /** The request id (null for a notification). */
  requestId: RpcId | null;
  /** Aborted by `$/cancelRequest` or when the connection closes. */
  signal: AbortSignal;
  /** The request's whole budget (params.timeoutMs or the configured default). */
  deadline: Deadline;
  /** Sends `request.progress {id, status}` to the caller, once per change. */
  progress(status: ProgressStatus): void;
  /** Secret params (those named in `secretParams`), already turned into `Pin`s and removed from params. Wiped after the handler. */
  secrets: Record<string, Pin>;
}

export interface MethodDefinition<P = any, R = unknown> {
  name: string;
  /** JSON Schema of `params` (a missing params member is validated as `{}`). */
  params: JsonSchema;
  /** Least role allowed; `admin` implies `client`. */
  role: Role;
  /** Params members holding PINs: converted to `Pin` at once and deleted from params so nothing can log them. */
  secretParams?: readonly string[];
  /**
   * Counts against the PIN-attempt rate limits (per connection and per token): `true` always,
   * `'if-secret'` only when a secret param (a PIN) was given.
   */
  pinAttempt?: boolean | 'if-secret';
  handler(params: P, ctx: MethodContext): Promise<R> | R;
}

interface Compiled {
  def: MethodDefinition;
  validate: ValidateFunction;
}

interface Entry {
  def: MethodDefinition;
  validate: ValidateFunction | null;
}

export class MethodRegistry {
  readonly #ajv = new Ajv({ allErrors: false, strict: false });
  readonly #methods = new Map<string, Entry>();

  register<P, R>(def: MethodDefinition<P, R>): void {
    if (this.#methods.has(def.name)) throw new Error(`method ${def.name} is already registered`);
    this.#methods.set(def.name, { def: def as MethodDefinition, validate: null });
  }

  /**
   * The method and its params validator. Schemas compile on a method's first call, not at
   * start: compiling all of them took ~150 ms of the agent's start-up (bench/agent-footprint.ts).
   */
  get(name: string): Compiled | undefined {
    const e = this.#methods.get(name);
    if (!e) return undefined;
    e.validate ??= this.#ajv.compile(e.def.params);
    return { def: e.def, validate: e.validate };
  }

  names(): string[] {
    return [...this.#methods.keys()].sort();
  }

  /** Compiles a schema with the registry's ajv (used for the envelope). */
  compile(schema: JsonSchema): ValidateFunction {
    return this.#ajv.compile(schema);
  }
}

/** Schema errors as `{path, message}` only: never the offending value (it could be a PIN). */
export function schemaErrors(errors: ErrorObject[] | null | undefined): Array<{ path: string; message: string }> {
  return (errors ?? []).slice(0, 8).map((e) => {
    let message = e.message ?? 'invalid';
    if (e.keyword === 'additionalProperties') message = `unknown member ${JSON.stringify(String((e.params as { additionalProperty?: string }).additionalProperty).slice(0, 64))}`;
    return { path: e.instancePath || '/', message };
  });
}
