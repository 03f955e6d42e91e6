/** Codec for commands with no parameters and a status-only reply (reset, selection). */
import type { CtapCommand } from './command.ts';
import { decodeCtapMap } from './fields.ts';

/**
 * A command without parameters or response body. A reply body, if a device sends one
 * anyway, must still be well-formed CBOR (an empty map is fine; fido.md §14.5).
 */
export function emptyCommand(code: number, name: string): CtapCommand<void, void> {
  return {
    code,
    name,
    encodeRequest: () => new Uint8Array(0),
    decodeRequest: () => undefined,
    encodeResponse: () => new Uint8Array(0),
    decodeResponse: (body) => {
      decodeCtapMap(body, `${name} response`);
    },
  };
}
