/**
 * `keytap record`: performs one FIDO operation on a real key (or any CTAPHID device: node-hid
 * path or `udp://HOST:PORT`) through keytap's own host stack, and writes every HID report it
 * exchanged as a trace (fixtures/README.md), with clientPIN secrets masked. This is how new
 * fixtures are captured on a bench (docs/hil.md).
 *
 *   keytap record --out FILE [--device PATH|udp://HOST:PORT|pcsc:[READER]] [--device-name TEXT] [--provenance TEXT]
 *                 [--timing] [--force] <info|pin-status|pin-set|pin-change|pin-verify|reset|wink>
 *
 * HID and UDP devices are recorded report by report; `pcsc:` (a key tapped on a PC/SC reader)
 * at the CtapTransport seam (`level: message`); `badge-read` on `serial:PATH:em4100[:BAUD]`
 * records a serial badge reader's bytes with timing (`transport: serial`).
 *
 * PINs come from stdin, one per line (pin-set: new; pin-change: current, new; pin-verify:
 * current), so they never appear in the process list or the shell history. The operation's
 * result goes to stdout as JSON; the trace never holds a PIN, a token or a shared secret.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import type { HidConnection } from '../../drivers/hid-connection.ts';
import { isUdpAddress, UdpHidConnection } from '../../drivers/udp/udp-hid-connection.ts';
import { NodeHidConnection } from '../../drivers/hid/node-hid-connection.ts';
import { listFidoHidDevices } from '../../drivers/hid/hid-enumerator.ts';
import { CtapHidTransport } from '../../fido/ctap-hid-transport.ts';
import { FidoClient } from '../../fido/fido-client.ts';
import { TraceRecorder } from '../../sim/trace/trace-recorder.ts';
import { recordCtapTransport } from '../../sim/trace/trace-transport.ts';
import type { CtapTransport } from '../../fido/ctap-transport.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { Pin } from '../../protocol/secret.ts';

/** The operations `keytap record` can perform. */
export const RECORD_OPERATIONS = ['info', 'pin-status', 'pin-set', 'pin-change', 'pin-verify', 'reset', 'wink', 'badge-read'] as const;
export type RecordOperation = (typeof RECORD_OPERATIONS)[number];

export interface RecordArgs {
  operation: RecordOperation;
  out: string;
  device?: string;
  deviceName?: string;
  provenance?: string;
  timing?: boolean;
  force?: boolean;
  confirmLastAttempt?: boolean;
  /** badge-read: give up after this many seconds without a card (default 15). */
  seconds?: number;
  /** badge-read: keep recording this long after the first card frame, for its repeats (default 1000). */
  lingerMs?: number;
}

/**
 * `badge-read` on a serial EM4100 reader (`--device serial:PATH:em4100[:BAUD]`): records the
 * port's bytes with timing until a card frame arrives, plus `lingerMs` of repeats.
 */
async function recordSerialBadge(args: RecordArgs, io: { stdout: (l: string) => void; stderr: (l: string) => void }): Promise<{ ok: boolean; result: unknown }> {
  const { parseSerialSpec } = await import('../../drivers/serial/serial-spec.ts');
  const { SerialLink } = await import('../../drivers/serial/serial-link.ts');
  const { Em4100Parser } = await import('../../protocol/rfid/em4100.ts');
  const { recordingSerialOptions } = await import('../../sim/trace/serial-trace.ts');
  const spec = parseSerialSpec(args.device!.slice('serial:'.length));
  if (spec.protocol !== 'em4100') throw new KeytapError('CLI_USAGE', 'badge-read records passive EM4100 readers; PN532 readers need the host to poll');
  const rec = new TraceRecorder(
    {
      transport: 'serial',
      device: args.deviceName ?? `${spec.protocol} reader on ${spec.path}`,
      provenance: args.provenance ?? `recorded with keytap record badge-read on ${new Date().toISOString().slice(0, 10)}`,
      fields: [
        ['scenario', 'badge-read'],
        ['recorded-from', `${spec.path} ${spec.baudRate} baud`],
      ],
    },
    { timing: true },
  );
  const parser = new Em4100Parser();
  let first: { uid: string; id: number; variant: string } | null = null;
  io.stderr(`keytap record: present a badge to the reader on ${spec.path}`);
  const result = await new Promise<{ ok: boolean; result: unknown }>((resolve) => {
    let link: InstanceType<typeof SerialLink> | null = null;
    const finish = (r: { ok: boolean; result: unknown }): void => {
      clearTimeout(giveUp);
      void link?.close().then(() => resolve(r));
    };
    const giveUp = setTimeout(() => finish({ ok: false, result: { error: { code: 'TIMEOUT', message: `no badge within ${args.seconds ?? 15} s` } } }), (args.seconds ?? 15) * 1000);
    link = new SerialLink(
      recordingSerialOptions(
        {
          path: spec.path,
          baudRate: spec.baudRate,
          onData: (chunk) => {
            for (const f of parser.push(chunk)) {
              if (first) continue;
              first = { uid: f.uid, id: f.id, variant: f.variant };
              clearTimeout(giveUp);
              setTimeout(() => finish({ ok: true, result: first }), args.lingerMs ?? 1000);
            }
          },
          onState: (open, error) => {
            if (!open && error) io.stderr(`keytap record: ${spec.path}: ${error}`);
          },
        },
        rec,
      ),
    );
    link.start();
  });
  rec.note(`result: ${result.ok ? `ok uid ${(result.result as { uid: string }).uid}` : 'error TIMEOUT'}`);
  const text = rec.toText();
  writeFileSync(args.out, text);
  io.stdout(JSON.stringify(result.result));
  io.stderr(`keytap record: wrote ${text.split('\n').filter((l) => /^(=>|<=|<~|!!|@)/.test(l)).length} records to ${args.out}`);
  return result;
}

/** Reads the PIN lines an operation needs from `input` (one per line). */
async function readPins(input: NodeJS.ReadableStream, n: number): Promise<Pin[]> {
  if (n === 0) return [];
  let buf = '';
  for await (const chunk of input) {
    buf += chunk.toString();
    if (buf.split('\n').length > n) break;
  }
  const lines = buf.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length < n || lines.slice(0, n).some((l) => l === '')) throw new KeytapError('CLI_USAGE', `this operation needs ${n} PIN line(s) on stdin`);
  const pins = lines.slice(0, n).map((l) => Pin.fromString(l));
  buf = '';
  lines.fill('');
  return pins;
}

/**
 * `pcsc:` / `pcsc:READER`: CTAP over NFC through pcscd (the first reader with a card, or the named
 * one), waiting up to 10 s for a card. Recorded at the message level (APDU chaining is the
 * transport's business; `level: message` in the header).
 */
async function openPcsc(device: string): Promise<{ transport: CtapTransport; descriptor: string; close: () => Promise<void> }> {
  const { PcscMonitor } = await import('../../drivers/pcsc/pcsc-monitor.ts');
  const { CtapNfcTransport } = await import('../../fido/nfc-transport.ts');
  const want = device.slice('pcsc:'.length);
  const monitor = new PcscMonitor();
  monitor.start();
  try {
    const reader = await new Promise<string>((resolve, reject) => {
      const pick = (): string | undefined => monitor.list().find((r) => r.present && (!want || r.name === want))?.name;
      const timer = setTimeout(() => {
        stop();
        reject(new KeytapError('DEVICE_NOT_FOUND', `no card on ${want ? `reader "${want}"` : 'any PC/SC reader'} within 10 s (is pcscd running? tap the key)`));
      }, 10_000);
      const stop = monitor.watch(() => {
        const r = pick();
        if (r) {
          clearTimeout(timer);
          stop();
          resolve(r);
        }
      });
      const now = pick();
      if (now) {
        clearTimeout(timer);
        stop();
        resolve(now);
      }
    });
    const conn = await monitor.connect(reader);
    const transport = await CtapNfcTransport.open(conn);
    return { transport, descriptor: `pcsc:${reader}`, close: async () => { await transport.close().catch(() => undefined); await monitor.close(); } };
  } catch (e) {
    await monitor.close();
    throw e;
  }
}

async function openDevice(device: string | undefined): Promise<{ conn: HidConnection; transport: 'hid' | 'udp'; descriptor: string }> {
  if (device && isUdpAddress(device)) return { conn: await UdpHidConnection.open(device), transport: 'udp', descriptor: device };
  const path = device ?? (await listFidoHidDevices())[0]?.path;
  if (!path) throw new KeytapError('DEVICE_NOT_FOUND', 'no FIDO security key found; plug one in or pass --device');
  return { conn: await NodeHidConnection.open(path), transport: 'hid', descriptor: path };
}

/**
 * Runs one recorded operation. Resolves with the operation's outcome; the trace is written to
 * `args.out` also when the operation failed (a failure is worth a fixture too).
 */
export async function runRecord(args: RecordArgs, io: { stdin: NodeJS.ReadableStream; stdout: (l: string) => void; stderr: (l: string) => void }): Promise<{ ok: boolean; result: unknown }> {
  if (existsSync(args.out) && !args.force) throw new KeytapError('CLI_USAGE', `${args.out} exists; pass --force to overwrite it`);
  const pinCount = { 'pin-set': 1, 'pin-change': 2, 'pin-verify': 1 }[args.operation as string] ?? 0;
  const pins = await readPins(io.stdin, pinCount);
  if (args.operation === 'badge-read' || args.device?.startsWith('serial:')) {
    if (args.operation !== 'badge-read' || !args.device?.startsWith('serial:')) throw new KeytapError('CLI_USAGE', 'badge-read needs --device serial:PATH:em4100[:BAUD] (and serial devices only do badge-read)');
    return recordSerialBadge(args, io);
  }
  const pcsc = args.device?.startsWith('pcsc:') === true;
  const opened = pcsc ? await openPcsc(args.device!) : await openDevice(args.device);
  const transport = pcsc ? 'pcsc' : (opened as { transport: 'hid' | 'udp' }).transport;
  const descriptor = opened.descriptor;
  const rec = new TraceRecorder(
    {
      transport,
      device: args.deviceName ?? descriptor,
      provenance: args.provenance ?? `recorded with keytap record ${args.operation} on ${new Date().toISOString().slice(0, 10)}`,
      ...(pcsc ? { level: 'message' as const } : {}),
      fields: [
        ['scenario', args.operation],
        ['recorded-from', descriptor],
      ],
    },
    { timing: args.timing === true },
  );
  rec.note(`keytap record ${args.operation}`);
  let ok = true;
  let result: unknown;
  let client: FidoClient | null = null;
  try {
    client = pcsc
      ? new FidoClient(recordCtapTransport((opened as { transport: CtapTransport }).transport, rec))
      : new FidoClient(await CtapHidTransport.open(rec.wrap((opened as { conn: HidConnection }).conn), { kind: transport === 'udp' ? 'udp' : 'usb', descriptor }));
    switch (args.operation) {
      case 'info':
        result = await client.getInfo();
        break;
      case 'pin-status':
        result = await client.pinStatus();
        break;
      case 'pin-set':
        result = await client.setPin(pins[0]!);
        break;
      case 'pin-change':
        result = await client.changePin(pins[0]!, pins[1]!, { confirmLastAttempt: args.confirmLastAttempt === true });
        break;
      case 'pin-verify':
        result = await client.verifyPin(pins[0]!, { confirmLastAttempt: args.confirmLastAttempt === true });
        break;
      case 'reset':
        io.stderr('keytap record: touch the key now (reset erases every credential)');
        result = await client.reset({ onProgress: (p) => p === 'touch-needed' && io.stderr('keytap record: touch needed') });
        break;
      case 'wink':
        await client.wink();
        result = null;
        break;
    }
  } catch (e) {
    ok = false;
    const err = e as KeytapError;
    result = { error: { code: err.code ?? 'ERROR', message: err.message, details: err.details ?? {} } };
  } finally {
    for (const p of pins) p.wipe();
    if (pcsc) await (opened as { close: () => Promise<void> }).close();
    else await (client ? client.transport.close() : (opened as { conn: HidConnection }).conn.close()).catch(() => undefined);
  }
  rec.note(`result: ${ok ? 'ok' : `error ${(result as { error: { code: string } }).error.code}`}`);
  const text = rec.toText();
  writeFileSync(args.out, text);
  const records = text.split('\n').filter((l) => /^(=>|<=|<~|!!|@)/.test(l)).length;
  io.stdout(JSON.stringify(result, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64url') : v instanceof Map ? Object.fromEntries(v) : v)));
  io.stderr(`keytap record: wrote ${records} records to ${args.out}`);
  return { ok, result };
}

const command: CommandModule<object, RecordArgs> = {
  command: 'record <operation>',
  describe: 'perform one FIDO operation on a key and write the HID traffic as a trace (PIN secrets masked)',
  builder: (y) =>
    (y as Argv<any>)
      .positional('operation', { choices: RECORD_OPERATIONS, describe: 'what to do while recording (PINs from stdin, one per line)' })
      .option('out', { type: 'string', demandOption: true, describe: 'trace file to write (fixtures/traces/<transport>/<model>/<scenario>.trace)' })
      .option('device', { type: 'string', describe: 'hidraw path, udp://HOST:PORT, pcsc:[READER] for CTAP over NFC, or serial:PATH:em4100[:BAUD] for badge-read (default: the first FIDO key found)' })
      .option('device-name', { type: 'string', describe: 'model and firmware for the trace header (default: the device path)' })
      .option('provenance', { type: 'string', describe: 'where this recording comes from (default: "recorded with keytap record OP on DATE")' })
      .option('timing', { type: 'boolean', default: false, describe: 'write +ms timing lines' })
      .option('confirm-last-attempt', { type: 'boolean', default: false, describe: 'allow spending the last PIN attempt' })
      .option('seconds', { type: 'number', describe: 'badge-read: give up after this many seconds without a card (default 15)' })
      .option('linger-ms', { type: 'number', describe: 'badge-read: keep recording the repeats this long after the first frame (default 1000)' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite --out' }) as Argv<RecordArgs>,
  handler: async (args) => {
    const stdout = (l: string) => void process.stdout.write(`${l}\n`);
    const stderr = (l: string) => void process.stderr.write(`${l}\n`);
    try {
      const r = await runRecord(args, { stdin: process.stdin, stdout, stderr });
      process.exit(r.ok ? 0 : 1);
    } catch (e) {
      const err = e as KeytapError;
      stderr(`keytap record: ${err.message}`);
      process.exit(err.code === 'CLI_USAGE' ? 64 : 1);
    }
  },
};

export default command;
