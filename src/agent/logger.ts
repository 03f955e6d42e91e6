/**
 * The agent's structured log (pino JSON on stdout; journald picks it up). Redaction paths back
 * up the `Pin`/`SecretBytes` types: even if a params object with a PIN or token reached a log
 * call, these paths print `[redacted]` (STYLE.md "Secrets").
 */
import pino, { type Logger, type DestinationStream } from 'pino';

/** Paths pino censors in every log line. */
export const REDACT_PATHS = [
  'pin',
  'newPin',
  'currentPin',
  'token',
  'authorization',
  '*.pin',
  '*.newPin',
  '*.currentPin',
  '*.token',
  '*.pinHashEnc',
  '*.pinUvAuthParam',
  '*.authorization',
  '*.*.pin',
  '*.*.newPin',
  '*.*.currentPin',
  '*.*.token',
  'req.headers.authorization',
  'headers.authorization',
];

export type { Logger };

/**
 * @param level pino level (default `info`).
 * @param destination where lines go (default stdout); tests pass a stream to read them.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'keytap',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
