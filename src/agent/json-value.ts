/**
 * Turns values from the FIDO layer (CBOR maps, byte strings, bigints) into JSON the API
 * sends: byte strings become base64url, `Map`s become objects (integer keys as strings),
 * `undefined` members are dropped (DESIGN.md §5: binary values base64url).
 */
import { toBase64Url } from '../util/bytes.ts';

export function toJsonValue(value: unknown, depth = 0): unknown {
  if (depth > 32) return null;
  if (value === null) return null;
  if (value instanceof Uint8Array) return toBase64Url(value);
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1) ?? null);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      const j = toJsonValue(v, depth + 1);
      if (j !== undefined) out[String(k)] = j;
    }
    return out;
  }
  if (value instanceof Set) return [...value].map((v) => toJsonValue(v, depth + 1) ?? null);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const j = toJsonValue(v, depth + 1);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return undefined;
}
