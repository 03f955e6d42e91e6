/**
 * `keytap readers`: the badge readers keytap can use right now. Through a running agent when one
 * answers (its reader devices); otherwise, or with `--direct` / `--serial`, directly: PC/SC
 * readers from pcscd (allow/deny rules applied, whether a card is on each) and the serial ports
 * given. Exit 0 even when pcscd is down (that is a state, reported in the output).
 */
import type { Argv, CommandModule } from 'yargs';
import { PcscReaderSource } from '../../readers/pcsc-reader-source.ts';
import { SerialReaderSource } from '../../readers/serial-reader-source.ts';
import { parseSerialSpec } from '../../drivers/serial/serial-spec.ts';
import { readerAllowed } from '../../readers/reader-rules.ts';
import type { ReaderSource, ReaderSourceDevice } from '../../readers/types.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { connectAgent } from './reader-agent.ts';

export interface ReadersArgs {
  json?: boolean;
  serial?: string[];
  pcsc?: boolean;
  wait?: number;
  direct?: boolean;
}

const command: CommandModule<object, ReadersArgs> = {
  command: 'readers',
  describe: 'list the badge readers (PC/SC through pcscd, and serial ports given with --serial)',
  builder: (y) =>
    (y as Argv<object>)
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
      .option('serial', { type: 'string', array: true, describe: 'also check a serial reader PATH:PROTOCOL[:BAUD] (em4100, pn532); repeatable' })
      .option('pcsc', { type: 'boolean', default: true, describe: 'ask pcscd for PC/SC readers (--no-pcsc to skip)' })
      .option('direct', { type: 'boolean', default: false, describe: 'ask pcscd and the ports directly even when an agent is running (--serial implies it)' })
      .option('wait', { type: 'number', default: 1500, describe: 'how long to let readers and ports enumerate, in ms' })
      .example('$0 readers', 'one line per reader: id, transport, name') as Argv<ReadersArgs>,
  handler: async (args) => {
    let serialSpecs;
    try {
      serialSpecs = (args.serial ?? []).map(String).map(parseSerialSpec);
    } catch (e) {
      process.stderr.write(`keytap readers: ${(e as KeytapError).message}\n`);
      process.exit(64);
    }
    // A running agent owns the readers (serial ports, the --simulate virtual reader): ask it.
    const agent = args.direct || serialSpecs.length || args.pcsc === false ? null : await connectAgent();
    if (agent) {
      const readers = (await agent.devicesList()).devices
        .filter((d) => d.kind === 'reader')
        .map((d) => ({ id: d.id, transport: d.transport, name: d.name, ...(typeof d.protocol === 'string' ? { protocol: d.protocol } : {}) }));
      agent.close();
      if (args.json) process.stdout.write(`${JSON.stringify({ readers, agent: true })}\n`);
      else {
        for (const r of readers) process.stdout.write(`${r.id}  ${r.transport}  ${r.name}\n`);
        if (readers.length === 0) process.stdout.write('The agent has no badge reader.\n');
      }
      process.exit(0);
    }
    const sources: ReaderSource[] = [];
    const pcsc = args.pcsc !== false ? new PcscReaderSource() : null;
    if (pcsc) sources.push(pcsc);
    if (serialSpecs.length) sources.push(new SerialReaderSource({ ports: serialSpecs }));
    for (const s of sources) s.start();
    await settle(pcsc, args.wait ?? 1500, serialSpecs.length > 0);
    const devices: ReaderSourceDevice[] = (await Promise.all(sources.map((s) => s.list()))).flat();
    const present = new Map((pcsc?.monitor.list() ?? []).map((r) => [`pcsc:${r.name}`, r.present]));
    // Readers the rules hide (security keys' CCID interfaces), shown so users know why.
    const hidden = (pcsc?.monitor.list() ?? []).filter((r) => !readerAllowed({ name: r.name })).map((r) => r.name);
    const pcscdUp = pcsc ? pcsc.monitor.serviceUp : null;
    const readers = devices
      .filter((d) => d.kind === 'reader')
      .map((d) => ({ id: d.id, transport: d.transport, name: d.name, protocol: d.protocol, ...(present.has(d.id) ? { cardPresent: present.get(d.id) } : {}) }));
    await Promise.all(sources.map((s) => s.close()));
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ readers, hidden, pcscd: pcscdUp })}\n`);
    } else {
      for (const r of readers) process.stdout.write(`${r.id}  ${r.transport}  ${r.name}${r.cardPresent ? '  (card present)' : ''}\n`);
      for (const h of hidden) process.stdout.write(`(hidden by the reader rules: ${h} — a security key's own interface)\n`);
      if (readers.length === 0) process.stdout.write('No badge reader found.\n');
      if (pcscdUp === false) process.stdout.write('pcscd is not running: start it (systemctl start pcscd.socket, or pcscd -f) to use PC/SC readers.\n');
    }
    process.exit(0);
  },
};

// pcsclite reports readers shortly after the context is up; stop waiting once it has spoken.
async function settle(pcsc: PcscReaderSource | null, waitMs: number, serial: boolean): Promise<void> {
  const end = Date.now() + waitMs;
  const minEnd = Date.now() + (serial ? Math.min(waitMs, 500) : 200);
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    if (Date.now() < minEnd) continue;
    if (!pcsc || (pcsc.monitor.serviceUp && pcsc.monitor.list().length > 0)) break;
  }
}

export default command;
