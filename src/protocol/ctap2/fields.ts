/**
 * Typed field access for CTAP2 CBOR maps (CTAP 2.1 §6: integer-keyed parameter maps).
 * Every codec decodes through these so a wrong type or a missing member fails with a
 * `Ctap2FieldError` that names the command and the field, and carries the CTAP status a
 * device should answer with (CTAP 2.1 §8.2: CBOR_UNEXPECTED_TYPE, MISSING_PARAMETER,
 * INVALID_CBOR).
 */
import { CborError, decodeCborWithInfo, type CborMap, type CborValue } from '../cbor.ts';
import { DecodeError } from '../errors.ts';
import { CtapStatus } from './status.ts';

/**
 * A CTAP2 message whose CBOR is malformed, not a map, or has a member of the wrong type or
 * a required member missing. Code `CTAP2_INVALID_FIELD`; `details.field` names the member
 * (e.g. `maxMsgSize`), `details.key` its integer key; `status` is the CTAP2 status an
 * authenticator answers with.
 */
export class Ctap2FieldError extends DecodeError {
  readonly status: number;
  readonly field: string | undefined;
  constructor(message: string, details: { field?: string; key?: number | string; status: number; command: string; cause?: unknown }) {
    const { cause, ...rest } = details;
    super(message, { code: 'CTAP2_INVALID_FIELD', details: rest, cause });
    this.status = details.status;
    this.field = details.field;
  }
}

/** A decoded parameter map and whether its CBOR was canonical. */
export interface DecodedMap {
  map: CborMap;
  canonical: boolean;
}

/** Decodes a CTAP2 parameter or response map. Empty input decodes to an empty map (status-only replies, fido.md §14.5). */
export function decodeCtapMap(bytes: Uint8Array, command: string): DecodedMap {
  if (bytes.length === 0) return { map: new Map(), canonical: true };
  let decoded;
  try {
    decoded = decodeCborWithInfo(bytes);
  } catch (e) {
    if (e instanceof CborError) {
      throw new Ctap2FieldError(`${command}: malformed CBOR (${e.message})`, { command, status: CtapStatus.INVALID_CBOR, cause: e });
    }
    throw e;
  }
  if (!(decoded.value instanceof Map)) {
    throw new Ctap2FieldError(`${command}: expected a CBOR map, got ${describe(decoded.value)}`, { command, status: CtapStatus.CBOR_UNEXPECTED_TYPE });
  }
  return { map: decoded.value, canonical: decoded.canonical };
}

export function describe(v: CborValue): string {
  if (v instanceof Uint8Array) return 'a byte string';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'a map';
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(Number(v)) ? 'an integer' : 'a float';
  if (typeof v === 'string') return 'a text string';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

/** A CBOR type a member must have: its description for messages and its check. */
interface Kind<T> {
  what: string;
  check: (v: CborValue) => v is CborValue & T;
}
const UINT: Kind<number> = { what: 'an unsigned integer', check: (x): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 };
const INT: Kind<number> = { what: 'an integer', check: (x): x is number => typeof x === 'number' && Number.isSafeInteger(x) };
const BYTES: Kind<Uint8Array> = { what: 'a byte string', check: (x): x is Uint8Array => x instanceof Uint8Array };
const TEXT: Kind<string> = { what: 'a text string', check: (x): x is string => typeof x === 'string' };
const BOOL: Kind<boolean> = { what: 'a boolean', check: (x): x is boolean => typeof x === 'boolean' };

/** Checked access to one map; `command` and `path` go into error messages. */
export class Fields {
  constructor(
    readonly map: CborMap,
    readonly command: string,
    readonly path = '',
  ) {}

  #err(name: string, key: number | string | undefined, message: string, status: number = CtapStatus.CBOR_UNEXPECTED_TYPE): Ctap2FieldError {
    const field = this.path + name;
    return new Ctap2FieldError(`${this.command}: ${field}${key !== undefined && typeof key === 'number' ? ` (0x${key.toString(16).padStart(2, '0')})` : ''} ${message}`, {
      command: this.command,
      field,
      ...(key !== undefined ? { key } : {}),
      status,
    });
  }

  #get(key: number | string, name: string, required: boolean): CborValue {
    const v = this.map.get(key);
    if (v === undefined && required) throw this.#err(name, key, 'is required but missing', CtapStatus.MISSING_PARAMETER);
    return v;
  }

  /** Checks `v` with `check`, or throws naming `name`. */
  expect<T>(v: CborValue, name: string, key: number | string | undefined, what: string, check: (v: CborValue) => v is CborValue & T): T {
    if (!check(v)) throw this.#err(name, key, `must be ${what}, got ${describe(v)}`);
    return v as T;
  }

  #req<T>(key: number | string, name: string, kind: Kind<T>): T {
    return this.expect(this.#get(key, name, true), name, key, kind.what, kind.check);
  }
  #opt<T>(key: number | string, name: string, kind: Kind<T>): T | undefined {
    const v = this.#get(key, name, false);
    return v === undefined ? undefined : this.expect(v, name, key, kind.what, kind.check);
  }

  uint(key: number | string, name: string): number {
    return this.#req(key, name, UINT);
  }
  optUint(key: number | string, name: string): number | undefined {
    return this.#opt(key, name, UINT);
  }
  int(key: number | string, name: string): number {
    return this.#req(key, name, INT);
  }
  optInt(key: number | string, name: string): number | undefined {
    return this.#opt(key, name, INT);
  }
  bytes(key: number | string, name: string): Uint8Array {
    return this.#req(key, name, BYTES);
  }
  optBytes(key: number | string, name: string): Uint8Array | undefined {
    return this.#opt(key, name, BYTES);
  }
  text(key: number | string, name: string): string {
    return this.#req(key, name, TEXT);
  }
  optText(key: number | string, name: string): string | undefined {
    return this.#opt(key, name, TEXT);
  }

  optBool(key: number | string, name: string): boolean | undefined {
    return this.#opt(key, name, BOOL);
  }

  map_(key: number | string, name: string): Fields {
    return this.#map(this.#get(key, name, true), name, key);
  }
  optMap(key: number | string, name: string): Fields | undefined {
    const v = this.#get(key, name, false);
    return v === undefined ? undefined : this.#map(v, name, key);
  }
  #map(v: CborValue, name: string, key: number | string | undefined): Fields {
    const m = this.expect(v, name, key, 'a map', (x): x is CborMap => x instanceof Map);
    return new Fields(m, this.command, `${this.path}${name}.`);
  }

  /** An array whose items `item` converts (it gets a `Fields` wrapper naming `name[i]`). */
  array<T>(key: number | string, name: string, item: (v: CborValue, at: ItemContext) => T): T[] {
    return this.#array(this.#get(key, name, true), name, key, item);
  }
  optArray<T>(key: number | string, name: string, item: (v: CborValue, at: ItemContext) => T): T[] | undefined {
    const v = this.#get(key, name, false);
    return v === undefined ? undefined : this.#array(v, name, key, item);
  }
  #array<T>(v: CborValue, name: string, key: number | string | undefined, item: (v: CborValue, at: ItemContext) => T): T[] {
    const arr = this.expect(v, name, key, 'an array', (x): x is CborValue[] => Array.isArray(x));
    return arr.map((x, i) => item(x, new ItemContext(this, `${name}[${i}]`)));
  }

  /** A map with text keys and boolean values (options). */
  optBoolRecord(key: number | string, name: string): Record<string, boolean> | undefined {
    const m = this.optMap(key, name);
    if (!m) return undefined;
    const out: Record<string, boolean> = {};
    for (const [k, v] of m.map) {
      if (typeof k !== 'string') throw this.#err(`${name} key`, key, `must be a text string, got ${describe(k as CborValue)}`);
      out[k] = m.expect<boolean>(v, k, undefined, BOOL.what, BOOL.check);
    }
    return out;
  }

  /** Members not in `known` (kept so a re-encoding loses nothing). */
  unknown(known: Iterable<number | string>): CborMap {
    const set = new Set<unknown>(known);
    const out: CborMap = new Map();
    for (const [k, v] of this.map) if (!set.has(k)) out.set(k, v);
    return out;
  }
}

/** Helpers for array items. */
export class ItemContext {
  constructor(
    readonly parent: Fields,
    readonly name: string,
  ) {}
  text(v: CborValue): string {
    return this.parent.expect<string>(v, this.name, undefined, TEXT.what, TEXT.check);
  }
  uint(v: CborValue): number {
    return this.parent.expect<number>(v, this.name, undefined, UINT.what, UINT.check);
  }
  bytes(v: CborValue): Uint8Array {
    return this.parent.expect<Uint8Array>(v, this.name, undefined, BYTES.what, BYTES.check);
  }
  map(v: CborValue): Fields {
    const m = this.parent.expect(v, this.name, undefined, 'a map', (x): x is CborMap => x instanceof Map);
    return new Fields(m, this.parent.command, `${this.parent.path}${this.name}.`);
  }
}

/** Builds an integer-keyed map, omitting undefined members (encodeCbor omits them too). */
export function ctapMap(entries: Array<[number | string, CborValue]>): CborMap {
  const m: CborMap = new Map();
  for (const [k, v] of entries) if (v !== undefined) m.set(k, v);
  return m;
}

/** Text-keyed map from a record (options, certifications), undefined members omitted. */
export function recordToMap(r: Record<string, CborValue> | undefined): CborMap | undefined {
  if (!r) return undefined;
  const m: CborMap = new Map();
  for (const [k, v] of Object.entries(r)) if (v !== undefined) m.set(k, v);
  return m;
}

/** Deletes members whose value is undefined, so decoded objects compare equal to their inputs. */
export function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
