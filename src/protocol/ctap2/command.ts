/**
 * One codec per CTAP2 command (authenticator-rs `RequestCtap2`, Ledger `Command`): the host
 * client encodes requests and decodes responses, the virtual authenticator decodes requests
 * and encodes responses, with the same object.
 *
 * `encodeRequest` returns the CBOR parameters only (no command byte); `encodeResponse` the
 * CBOR body only (no status byte). Commands without parameters/body use `undefined` and
 * encode to an empty array. Framing helpers: `frameRequest` / `parseResponse` in `frame.ts`.
 */
export interface CtapCommand<Req, Res> {
  /** CTAP2 command byte (CTAP 2.1 §6), e.g. 0x04 for getInfo. */
  readonly code: number;
  /** Spec name, e.g. `authenticatorGetInfo`. */
  readonly name: string;
  encodeRequest(req: Req): Uint8Array;
  decodeRequest(params: Uint8Array): Req;
  encodeResponse(res: Res): Uint8Array;
  decodeResponse(body: Uint8Array): Res;
}
