/**
 * The error hierarchy's root. Every error keytap raises is a `KeytapError` with a stable
 * string `code` that UIs and the agent API act on; subclasses per layer live beside the
 * code that throws them (ctaphid, ctap2, apdu, transport, trace, agent).
 *
 * Messages carry lengths, status names and what to do next, never a PIN, token or key byte.
 */
export class KeytapError extends Error {
  /** Stable machine-readable code, e.g. `PIN_INVALID`. Never renamed once published. */
  readonly code: string;
  /** Extra structured details that travel to the API's `error.data` (no secrets). */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details ?? {};
  }
}

/** Malformed input from a device, a file or a peer: a frame, CBOR, a trace line. */
export class DecodeError extends KeytapError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown>; code?: string }) {
    super(options?.code ?? 'DECODE_ERROR', message, options);
  }
}
