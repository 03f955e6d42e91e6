import { KeytapError } from '../errors.ts';
import { describeStatusWord, statusWordName } from './status-words.ts';

/** A card answered with a status word other than the one the step needed. Code `APDU_STATUS`. */
export class ApduStatusError extends KeytapError {
  readonly sw: number;
  constructor(what: string, sw: number, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('APDU_STATUS', `${what}: card answered ${describeStatusWord(sw)}`, {
      ...options,
      details: { sw: sw.toString(16).padStart(4, '0'), swName: statusWordName(sw), ...options?.details },
    });
    this.sw = sw;
  }
}

/** A malformed APDU (wrong Lc, truncated extended header). Code `APDU_MALFORMED`. */
export class ApduFormatError extends KeytapError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('APDU_MALFORMED', message, options);
  }
}
