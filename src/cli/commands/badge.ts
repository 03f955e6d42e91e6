/**
 * `keytap badge read [--json] [--timeout SEC]`: waits for a tap on any PC/SC reader (or a serial
 * reader given with `--serial`) and prints the card: UID, card name, ATR, reader. A card already
 * on a reader counts as a tap. Direct mode: PC/SC is shared, so this works beside a running
 * agent; a serial port the agent holds cannot be opened twice. Exit 0 with a card, 1 on
 * timeout, 64 on a usage error.
 */
import type { Argv, CommandModule } from 'yargs';
import { PcscReaderSource } from '../../readers/pcsc-reader-source.ts';
import { SerialReaderSource } from '../../readers/serial-reader-source.ts';
import { parseSerialSpec } from '../../drivers/serial/serial-spec.ts';
import type { CardEvent, ReaderSource } from '../../readers/types.ts';
import { KeytapError } from '../../protocol/errors.ts';

export interface BadgeReadArgs {
  json?: boolean;
  timeout?: number;
  serial?: string[];
  pcsc?: boolean;
  reader?: string;
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
    const sources: ReaderSource[] = [];
    if (args.pcsc !== false) sources.push(new PcscReaderSource());
    if (serialSpecs.length) sources.push(new SerialReaderSource({ ports: serialSpecs }));
    if (sources.length === 0) {
      process.stderr.write('keytap badge read: nothing to listen on (--no-pcsc and no --serial)\n');
      process.exit(64);
    }
    if (!args.json) process.stderr.write('Tap a badge on the reader…\n');
    const card = await waitForTap(sources, Math.max(0, (args.timeout ?? 30) * 1000), pattern);
    await Promise.all(sources.map((s) => s.close()));
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
  },
};

const command: CommandModule<object, object> = {
  command: 'badge <command>',
  describe: 'badge (RFID/NFC card) commands',
  builder: (y) => (y as Argv<object>).command(read as CommandModule<object, any>).demandCommand(1, 'Name a badge command: read'),
  handler: () => {},
};

export default command;

