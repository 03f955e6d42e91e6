/**
 * CTAP2 message framing over a CtapTransport (CTAP 2.1 §8.1, §11.2.9.1.2 CBOR): a request
 * is `command byte ‖ CBOR parameters`, a response `status byte ‖ CBOR body`. A status byte
 * alone is a valid reply (YubiKeys send it; fido.md §14.5), as is an empty map.
 */
import { concatBytes } from '../../util/bytes.ts';
import { DecodeError } from '../errors.ts';
import type { CtapCommand } from './command.ts';
import { CtapError, CtapStatus } from './status.ts';

/** `command.code ‖ command.encodeRequest(req)`. */
export function frameRequest<Req>(command: CtapCommand<Req, unknown>, req: Req): Uint8Array {
  return concatBytes(Uint8Array.of(command.code), command.encodeRequest(req));
}

/**
 * Decodes a response for `command`. Throws `CtapError` (code `CTAP_<NAME>`,
 * details.ctapStatus) when the status is not OK, `DecodeError` when the reply is empty,
 * `Ctap2FieldError` when the body is malformed.
 */
export function parseResponse<Res>(command: CtapCommand<unknown, Res>, bytes: Uint8Array): Res {
  if (bytes.length === 0) throw new DecodeError(`${command.name}: empty CTAP2 response (no status byte)`, { code: 'CTAP2_EMPTY_RESPONSE' });
  const status = bytes[0]!;
  if (status !== CtapStatus.OK) throw new CtapError(status, command.name);
  return command.decodeResponse(bytes.subarray(1));
}

/** Device side: splits a request into its command byte and parameter bytes. Throws `DecodeError` when empty. */
export function parseRequest(bytes: Uint8Array): { code: number; params: Uint8Array } {
  if (bytes.length === 0) throw new DecodeError('empty CTAP2 request (no command byte)', { code: 'CTAP2_EMPTY_REQUEST' });
  return { code: bytes[0]!, params: bytes.subarray(1) };
}

/** Device side: `status ‖ body` (body omitted for status-only replies). */
export function frameResponse(status: number, body?: Uint8Array): Uint8Array {
  return body && body.length > 0 ? concatBytes(Uint8Array.of(status), body) : Uint8Array.of(status);
}
