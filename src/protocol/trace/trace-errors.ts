/**
 * Trace errors (DESIGN.md §7): a malformed trace file, a replay that diverged from the trace,
 * and a replay that ended before the trace did. Every message names the trace line.
 */
import { KeytapError } from '../errors.ts';

/** A trace file that does not follow the grammar (fixtures/README.md). `details.line` is 1-based. */
export class TraceParseError extends KeytapError {
  readonly line: number;
  constructor(line: number, reason: string, options?: { source?: string; cause?: unknown }) {
    super('TRACE_PARSE_ERROR', `${options?.source ? options.source + ':' : 'trace line '}${line}: ${reason}`, {
      cause: options?.cause,
      details: { line, reason, ...(options?.source ? { source: options.source } : {}) },
    });
    this.line = line;
  }
}

/**
 * A replay diverged: the host sent something else than the trace's `=>` line, or did something
 * (read/write) that the trace does not expect at that point. `expected` and `actual` are the
 * trace-syntax renderings (masked bytes stay masked: no secret reaches the message).
 */
export class TraceMismatchError extends KeytapError {
  readonly line: number;
  constructor(line: number, reason: string, expected: string, actual: string, options?: { source?: string }) {
    super('TRACE_MISMATCH', `${options?.source ? options.source + ':' : 'trace line '}${line}: ${reason}\n  expected: ${expected}\n  actual:   ${actual}`, {
      details: { line, reason, expected, actual, ...(options?.source ? { source: options.source } : {}) },
    });
    this.line = line;
  }
}

/** `assertConsumed()` found lines the replay never reached. `details.line` is the first of them. */
export class TraceNotConsumedError extends KeytapError {
  readonly line: number;
  constructor(line: number, remaining: number, next: string, options?: { source?: string }) {
    super('TRACE_NOT_CONSUMED', `${options?.source ? options.source + ':' : 'trace line '}${line}: replay ended with ${remaining} trace record(s) unconsumed, starting with: ${next}`, {
      details: { line, remaining, next, ...(options?.source ? { source: options.source } : {}) },
    });
    this.line = line;
  }
}
