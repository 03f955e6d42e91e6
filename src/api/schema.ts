/**
 * JSON Schemas (draft 2020-12 subset that ajv 8 understands by default, i.e. draft-07 keywords)
 * for every inbound message: the JSON-RPC envelope and each method's params. The server compiles
 * them once; a message that fails gets -32600 (envelope) or -32602 (params) and never reaches
 * the broker. Other modules register extra methods with their own schema (see the agent's
 * method registry); these are the core ones.
 */

import type { MethodName } from './types.ts';

/** A JSON Schema object (kept loose so this module has no validator dependency). */
export type JsonSchema = Record<string, unknown>;

const base64url: JsonSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]*$', maxLength: 8192 };
/** PINs travel as strings (at most 63 UTF-8 bytes are valid; the FIDO client checks the rules, this only bounds size). */
const pin: JsonSchema = { type: 'string', minLength: 1, maxLength: 256 };
const deviceId: JsonSchema = { type: 'string', minLength: 1, maxLength: 128 };
const timeoutMs: JsonSchema = { type: 'integer', minimum: 1, maximum: 300_000 };
const rpId: JsonSchema = { type: 'string', minLength: 1, maxLength: 253 };
const topics: JsonSchema = {
  type: 'array',
  items: { enum: ['device', 'card', 'fido', 'request'] },
  maxItems: 16,
  uniqueItems: true,
};

function deviceMethod(extra: Record<string, JsonSchema> = {}, required: string[] = []): JsonSchema {
  return {
    type: 'object',
    properties: { device: deviceId, timeoutMs, ...extra },
    required: ['device', ...required],
    additionalProperties: false,
  };
}

/** The JSON-RPC 2.0 request/notification envelope (a single object; batches are split first). */
export const envelopeSchema: JsonSchema = {
  type: 'object',
  properties: {
    jsonrpc: { const: '2.0' },
    id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'integer' }] },
    method: { type: 'string', minLength: 1, maxLength: 128 },
    params: { type: ['object', 'array'] },
  },
  required: ['jsonrpc', 'method'],
  additionalProperties: false,
};

/**
 * Params schema per core method. `undefined` params are validated as `{}`. `satisfies` keeps it
 * in step with `MethodMap` in types.ts: a method with a type but no schema does not compile.
 */
export const methodParamSchemas = {
  initialize: {
    type: 'object',
    properties: {
      clientInfo: {
        type: 'object',
        properties: { name: { type: 'string', maxLength: 128 }, version: { type: 'string', maxLength: 64 } },
        required: ['name'],
        additionalProperties: false,
      },
      token: { type: 'string', minLength: 1, maxLength: 512 },
      protocolVersion: { type: 'string', maxLength: 32 },
    },
    additionalProperties: false,
  },
  'devices.list': { type: 'object', additionalProperties: false },
  'fido.info': deviceMethod(),
  'fido.pin.status': deviceMethod(),
  'fido.pin.set': deviceMethod({ newPin: pin }, ['newPin']),
  'fido.pin.change': deviceMethod({ currentPin: pin, newPin: pin, confirmLastAttempt: { type: 'boolean' } }, ['currentPin', 'newPin']),
  'fido.pin.verify': deviceMethod({ pin, confirmLastAttempt: { type: 'boolean' } }, ['pin']),
  'fido.reset': deviceMethod({ guided: { type: 'boolean' } }),
  'fido.wink': deviceMethod(),
  'fido.makeCredential': deviceMethod(
    {
      rpId,
      rp: {
        type: 'object',
        properties: { id: rpId, name: { type: 'string', maxLength: 256 } },
        additionalProperties: false,
      },
      clientDataHash: { ...base64url, minLength: 43, maxLength: 43 },
      user: {
        type: 'object',
        properties: {
          id: { ...base64url, minLength: 1, maxLength: 86 },
          name: { type: 'string', maxLength: 256 },
          displayName: { type: 'string', maxLength: 256 },
        },
        required: ['id'],
        additionalProperties: false,
      },
      pin,
      residentKey: { type: 'boolean' },
      userVerification: { type: 'boolean' },
      excludeList: { type: 'array', items: base64url, maxItems: 64 },
      algorithms: { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 16 },
    },
    ['rpId', 'clientDataHash', 'user'],
  ),
  'fido.getAssertion': deviceMethod(
    {
      rpId,
      clientDataHash: { ...base64url, minLength: 43, maxLength: 43 },
      allowCredentials: { type: 'array', items: base64url, maxItems: 64 },
      pin,
      userVerification: { type: 'boolean' },
    },
    ['rpId', 'clientDataHash'],
  ),
  'config.get': { type: 'object', additionalProperties: false },
  'events.subscribe': { type: 'object', properties: { topics }, additionalProperties: false },
  'events.unsubscribe': { type: 'object', properties: { topics }, additionalProperties: false },
  '$/cancelRequest': {
    type: 'object',
    properties: { id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'integer' }] } },
    required: ['id'],
    additionalProperties: false,
  },
} satisfies Record<MethodName, JsonSchema>;

/** Names of params members that hold secrets: scrubbed from the params object after parsing, redacted in logs. */
export const SECRET_PARAM_NAMES = ['pin', 'currentPin', 'newPin', 'token'] as const;
