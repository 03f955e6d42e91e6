/**
 * Shared plumbing of the FIDO commands: options, the backend, output (human or `--json`),
 * progress lines, and errors → exit codes (docs/pin-management.md "Exit codes").
 * Nothing here ever prints a PIN: PINs are `Pin` objects, which print as `[redacted]`.
 */
import type { Argv } from 'yargs';
import type { CliBackend } from './backend.ts';
import { exitCodeFor, FidoExitCode } from './backend.ts';
import { DirectBackend } from './direct-backend.ts';
import { AutoBackend } from './agent-backend.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import type { Progress } from '../fido/fido-client.ts';
import { KeytapError } from '../protocol/errors.ts';

/** Options every FIDO command takes. */
export interface FidoCommonArgs {
  device?: string;
  json?: boolean;
}

export function withCommonOptions<T>(y: Argv<T>): Argv<T & FidoCommonArgs> {
  return y
    .option('device', { type: 'string', describe: 'the key: HID path (/dev/hidraw3), USB serial number, or udp://HOST:PORT (simulator); default the only key plugged in' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
    .option('verbose', { type: 'boolean', default: false, describe: 'say whether a running agent or direct mode was used' }) as Argv<T & FidoCommonArgs>;
}

/**
 * The backend for this invocation: a running agent when one answers (requests then queue behind
 * other clients'), else direct mode. `--verbose` prints which was used (src/cli/agent-backend.ts).
 */
export function openBackend(): CliBackend {
  const verbose = process.argv.includes('--verbose');
  return new AutoBackend({ direct: () => new DirectBackend(), ...(verbose ? { report: (l: string) => void process.stderr.write(`${l}\n`) } : {}) });
}

const PROGRESS_TEXT: Record<Progress, string> = {
  'touch-needed': 'Touch the key now (it blinks).',
  processing: 'Working… do not remove the key.',
  'remove-key': 'Remove the key now.',
  'insert-key': 'Insert the key again now.',
};

/** Progress lines on stderr (stdout stays clean for --json). */
export function progressPrinter(): (p: Progress) => void {
  return (p) => void process.stderr.write(`${PROGRESS_TEXT[p]}\n`);
}

/** Human sentences for a PIN state: the state, attempts left, and what to do next. */
export function describeStatus(s: PinStatus): string[] {
  const lines: string[] = [];
  const left = s.retriesLeft === null ? '' : `${s.retriesLeft} of ${s.maxRetries} attempts left`;
  switch (s.state) {
    case 'no-pin':
      lines.push('PIN: not set.', 'Next: set one with `keytap pin set`.');
      break;
    case 'ok':
      lines.push(`PIN: set, ${left}.`);
      if (s.retriesLeft === 1) lines.push('Warning: one wrong PIN more blocks the key for good; keytap asks for --confirm-last-attempt.');
      break;
    case 'change-required':
      lines.push(`PIN: must be changed before the key can be used (${left}).`, 'Next: `keytap pin change`.');
      break;
    case 'soft-blocked':
      lines.push(`PIN: temporarily blocked after 3 wrong PINs in a row (${left}).`, 'Next: remove the key and insert it again, then retry.');
      break;
    case 'blocked':
      lines.push('PIN: blocked (0 attempts left).', 'Next: only a reset recovers the key, and it erases every credential on it: `keytap reset`.');
      break;
  }
  lines.push(`PIN length: ${s.minLength} to ${s.maxLength} characters.`);
  if (s.uvRetriesLeft !== undefined) lines.push(`Fingerprint attempts left: ${s.uvRetriesLeft}.`);
  return lines;
}

/** Writes everything, then exits (process.exit alone can cut piped output short). */
function writeAndExit(out: string, err: string, code: number): Promise<never> {
  return new Promise<never>(() => {
    process.stderr.write(err, () => process.stdout.write(out, () => process.exit(code)));
  });
}

/** Prints a result (JSON or text) and exits 0. */
export function succeed(json: boolean | undefined, value: Record<string, unknown>, text: string[]): Promise<never> {
  return writeAndExit(json ? `${JSON.stringify({ ok: true, ...value })}\n` : `${text.join('\n')}\n`, '', FidoExitCode.OK);
}

/** What a technician does next for an error code. */
function nextStep(e: KeytapError): string | null {
  switch (e.code) {
    case 'PIN_INVALID':
      return e.details.retriesLeft === 1 ? 'One attempt is left: the next wrong PIN blocks the key. keytap will ask for --confirm-last-attempt.' : 'Check the PIN and try again.';
    case 'PIN_SOFT_BLOCKED':
      return 'Remove the key and insert it again, then retry.';
    case 'PIN_BLOCKED':
      return 'Only `keytap reset` recovers the key, and it erases every credential on it.';
    case 'CONFIRMATION_REQUIRED':
      return 'Run again with --confirm-last-attempt if you are sure of the PIN.';
    case 'PIN_NOT_SET':
      return 'Set a PIN with `keytap pin set`.';
    case 'PIN_CHANGE_REQUIRED':
      return 'Change the PIN with `keytap pin change` (the new PIN must differ).';
    case 'RESET_NOT_ALLOWED':
      return 'Re-insert the key and run `keytap reset` at once.';
    case 'DEVICE_NOT_FOUND':
    case 'DEVICE_REMOVED':
      return 'Plug the key in (or name it with --device) and try again.';
    default:
      return null;
  }
}

/** Prints an error (JSON on stdout, or text on stderr) and exits with its code. */
export function fail(json: boolean | undefined, err: unknown): Promise<never> {
  const e = err instanceof KeytapError ? err : new KeytapError('INTERNAL', err instanceof Error ? err.message : String(err));
  const code = exitCodeFor(e.code);
  if (json) return writeAndExit(`${JSON.stringify({ ok: false, error: { code: e.code, message: e.message, details: e.details } })}\n`, '', code);
  const next = nextStep(e);
  return writeAndExit('', `keytap: ${e.message} [${e.code}]\n${next ? `Next: ${next}\n` : ''}`, code);
}

/** Runs a command body, mapping any error to its exit code. */
export async function runFido(json: boolean | undefined, body: () => Promise<never>): Promise<void> {
  try {
    await body();
  } catch (e) {
    await fail(json, e);
  }
}
