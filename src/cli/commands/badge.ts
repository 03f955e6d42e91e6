/**
 * `keytap badge read [--json] [--timeout SEC]`: waits for a tap and prints the card: UID, card
 * name, ATR, reader. Through a running agent when one answers (every reader the agent owns,
 * including the `--simulate` virtual reader); otherwise, or with `--direct` / `--serial`, directly
 * on PC/SC readers (a card already on one counts as a tap) and the serial ports given (a port the
 * agent holds cannot be opened twice). Exit 0 with a card, 1 on timeout, 64 on a usage error.
 */
import type { Argv, CommandModule } from 'yargs';
import { PcscReaderSource } from '../../readers/pcsc-reader-source.ts';
import { SerialReaderSource } from '../../readers/serial-reader-source.ts';
import { parseSerialSpec } from '../../drivers/serial/serial-spec.ts';
import type { CardEvent, ReaderSource } from '../../readers/types.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { connectAgent, waitForAgentTap } from './reader-agent.ts';

export interface BadgeReadArgs {
  json?: boolean;
  timeout?: number;
  serial?: string[];
  pcsc?: boolean;
  reader?: string;
  direct?: boolean;
}

/** Waits for the first `card.present` from `sources` (optionally on a reader whose name matches). */
export function waitForTap(sources: ReaderSource[], timeoutMs: number, readerPattern?: RegExp): Promise<CardEvent | null> {
  return new Promise((resolve) => {
    const offs: Array<() => void> = [];
    const done = (e: CardEvent | null): void => {
      clearTimeout(t);
      for (const o of offs) o();
      resolve(e);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    for (const s of sources) {
      offs.push(
        s.cards((e) => {
          if (e.type === 'card.present' && (!readerPattern || readerPattern.test(e.readerName))) done(e);
        }),
      );
      s.start();
    }
  });
}

const read: CommandModule<object, BadgeReadArgs> = {
  command: 'read',
  describe: 'wait for a badge tap and print the card (UID, card type, ATR, reader)',
  builder: (y) =>
    (y as Argv<object>)
      .option('json', { type: 'boolean', default: false, describe: 'print the card as one JSON object' })
      .option('timeout', { type: 'number', default: 30, describe: 'seconds to wait for a tap' })
      .option('serial', { type: 'string', array: true, describe: 'also listen on a serial reader PATH:PROTOCOL[:BAUD] (em4100, pn532); repeatable' })
      .option('pcsc', { type: 'boolean', default: true, describe: 'listen on PC/SC readers (--no-pcsc to skip)' })
      .option('reader', { type: 'string', describe: 'only accept taps on readers whose name matches this regular expression' })
      .option('direct', { type: 'boolean', default: false, describe: 'talk to the readers directly even when an agent is running (--serial implies it)' })
      .example('$0 badge read --json', 'prints {"uid":"62322b1f","cardType":"MIFARE Classic 1K",...}') as Argv<BadgeReadArgs>,
  handler: async (args) => {
    let serialSpecs;
    let pattern: RegExp | undefined;
    try {
      serialSpecs = (args.serial ?? []).map(String).map(parseSerialSpec);
      pattern = args.reader ? new RegExp(args.reader, 'i') : undefined;
    } catch (e) {
      process.stderr.write(`keytap badge read: ${(e as KeytapError).message}\n`);
      process.exit(64);
    }
    const timeoutMs = Math.max(0, (args.timeout ?? 30) * 1000);
    // A running agent sees every reader it owns (serial ports it holds, the --simulate virtual
    // reader); use it unless told otherwise.
    const agent = args.direct || serialSpecs.length || args.pcsc === false ? null : await connectAgent();
    if (agent) {
      if (!args.json) process.stderr.write('Tap a badge on a reader (through the running agent)…\n');
      const card = await waitForAgentTap(agent, timeoutMs, pattern);
      agent.close();
      finish(card, args);
    }
    const sources: ReaderSource[] = [];
    if (args.pcsc !== false) sources.push(new PcscReaderSource());
    if (serialSpecs.length) sources.push(new SerialReaderSource({ ports: serialSpecs }));
    if (sources.length === 0) {
      process.stderr.write('keytap badge read: nothing to listen on (--no-pcsc and no --serial)\n');
      process.exit(64);
    }
    if (!args.json) process.stderr.write('Tap a badge on the reader…\n');
    const card = await waitForTap(sources, timeoutMs, pattern);
    await Promise.all(sources.map((s) => s.close()));
    finish(card, args);
  },
};

function finish(card: CardEvent | null, args: BadgeReadArgs): never {
  if (!card) {
    if (args.json) process.stdout.write(`${JSON.stringify({ error: { code: 'TIMEOUT', message: `no badge was tapped within ${args.timeout} s` } })}\n`);
    else process.stderr.write(`keytap badge read: no badge was tapped within ${args.timeout} s\n`);
    process.exit(1);
  }
  const out = { uid: card.uid, cardType: card.cardType, standard: card.standard, atr: card.atr, reader: card.reader, readerName: card.readerName, time: card.time, ...(card.facility !== undefined ? { facility: card.facility, cardNumber: card.cardNumber } : {}), ...(card.fido ? { fido: true } : {}) };
  if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`UID       ${card.uid ?? '(unreadable)'}\n`);
    process.stdout.write(`Card      ${card.cardType} (${card.standard})\n`);
    if (card.atr) process.stdout.write(`ATR       ${card.atr}\n`);
    if (card.facility !== undefined) process.stdout.write(`Wiegand   facility ${card.facility}, card ${card.cardNumber}\n`);
    if (card.fido) process.stdout.write('FIDO      this card is a security key (answers the FIDO applet)\n');
    process.stdout.write(`Reader    ${card.readerName}\n`);
  }
  process.exit(0);
}

const command: CommandModule<object, object> = {
  command: 'badge <command>',
  describe: 'badge (RFID/NFC card) commands',
  builder: (y) => (y as Argv<object>).command(read as CommandModule<object, any>).demandCommand(1, 'Name a badge command: read'),
  handler: () => {},
};

export default command;

