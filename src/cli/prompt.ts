/**
 * Where the CLI gets PINs from, most explicit first:
 *  1. `--pin` / `--new-pin` arguments (visible in the process list and shell history: a warning
 *     goes to stderr);
 *  2. environment `KEYTAP_PIN` / `KEYTAP_NEW_PIN` (automation);
 *  3. `--pin-stdin`: one PIN per line on stdin (current PIN first, then the new PIN);
 *  4. a hidden prompt on the terminal; a new PIN is asked twice.
 * PINs become `Pin` at once and are never printed.
 */
import { createInterface } from 'node:readline';
import { Pin } from '../protocol/secret.ts';
import { KeytapError } from '../protocol/errors.ts';

/** Options of `createPinPrompter`. */
export interface PinPrompterOptions {
  /** `--pin` value. */
  pinArg?: string;
  /** `--new-pin` value. */
  newPinArg?: string;
  /** `--pin-stdin`. */
  pinStdin?: boolean;
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default `process.stdin`. */
  input?: NodeJS.ReadStream;
  /** Where prompts and warnings go. Default `process.stderr`. */
  output?: NodeJS.WriteStream;
}

/** Asks for PINs and confirmations. */
export interface PinPrompter {
  /** The current PIN. */
  currentPin(): Promise<Pin>;
  /** A new PIN (asked twice on a terminal). */
  newPin(): Promise<Pin>;
  /** A yes/no question on the terminal; false when there is no terminal. */
  confirm(question: string): Promise<boolean>;
  /** Releases stdin. */
  close(): void;
}

/** The CLI was given no way to read a PIN, or the two entries differ. Exit code 64. */
export class PromptError extends KeytapError {
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

/** Reads a line from a TTY without echo. Ctrl-C aborts. */
function hiddenLine(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    const wasRaw = input.isRaw;
    input.setRawMode?.(true);
    input.resume();
    let text = '';
    const done = (fn: () => void): void => {
      input.off('data', onData);
      input.setRawMode?.(wasRaw ?? false);
      input.pause();
      output.write('\n');
      fn();
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(text));
        if (ch === '\u0003') return done(() => reject(new KeytapError('CANCELLED', 'cancelled at the PIN prompt')));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
  });
}

export function createPinPrompter(o: PinPrompterOptions = {}): PinPrompter {
  const env = o.env ?? process.env;
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stderr;
  let lines: AsyncIterator<string> | null = null;
  let rl: ReturnType<typeof createInterface> | null = null;
  let warned = false;

  const warnArg = (): void => {
    if (warned) return;
    warned = true;
    output.write('keytap: warning: a PIN given as an argument is visible to other users in the process list and stays in shell history; prefer --pin-stdin or the hidden prompt\n');
  };
  const stdinLine = async (what: string): Promise<string> => {
    if (!lines) {
      rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
      lines = rl[Symbol.asyncIterator]();
    }
    const r = await lines.next();
    if (r.done) throw new PromptError(`--pin-stdin: stdin ended before the ${what} (one PIN per line: current PIN first, then the new PIN)`);
    return r.value;
  };
  const tty = (): boolean => input.isTTY === true;

  return {
    async currentPin() {
      if (o.pinArg !== undefined) return warnArg(), Pin.fromString(o.pinArg);
      if (env.KEYTAP_PIN !== undefined) return Pin.fromString(env.KEYTAP_PIN);
      if (o.pinStdin) return Pin.fromString(await stdinLine('current PIN'));
      if (!tty()) throw new PromptError('no PIN given: use --pin-stdin, KEYTAP_PIN, or run on a terminal');
      return Pin.fromString(await hiddenLine(input, output, 'PIN: '));
    },
    async newPin() {
      if (o.newPinArg !== undefined) return warnArg(), Pin.fromString(o.newPinArg);
      if (env.KEYTAP_NEW_PIN !== undefined) return Pin.fromString(env.KEYTAP_NEW_PIN);
      if (o.pinStdin) return Pin.fromString(await stdinLine('new PIN'));
      if (!tty()) throw new PromptError('no new PIN given: use --pin-stdin, KEYTAP_NEW_PIN, or run on a terminal');
      const a = await hiddenLine(input, output, 'New PIN: ');
      const b = await hiddenLine(input, output, 'New PIN again: ');
      if (a !== b) throw new PromptError('the two new PINs differ; nothing was changed');
      return Pin.fromString(a);
    },
    async confirm(question) {
      if (!tty()) return false;
      output.write(`${question} [y/N] `);
      const answer = await new Promise<string>((resolve) => {
        input.resume();
        input.once('data', (d) => {
          input.pause();
          resolve(d.toString());
        });
      });
      return /^y(es)?\s*$/i.test(answer.trim());
    },
    close() {
      (rl as ReturnType<typeof createInterface> | null)?.close();
    },
  };
}
