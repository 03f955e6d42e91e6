/**
 * The `--trace FILE` mode of `keytap simulate` (registered in simulate.ts's `simulateModes`):
 * serves a recorded device over CTAPHID/UDP instead of the virtual authenticator.
 *
 *   keytap simulate --trace fixtures/traces/hid/yubikey-5-fw5.2.1/get-info.trace --udp 127.0.0.1:0 [--loop] [--honor-timing]
 *
 * Prints the same `listening udp HOST:PORT` line as the virtual-authenticator mode, then
 * `trace consumed` on stderr when the whole trace was served; a mismatch is printed on stderr
 * with the trace line, expected and actual bytes, and the client gets CTAPHID_ERROR. A
 * message-level trace (`level: message`, e.g. recorded over NFC) is served behind live CTAPHID
 * framing, one CBOR request per `=>` line. Defined
 * structurally (no import of simulate.ts) to keep the module graph acyclic.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { parseTrace } from '../../protocol/trace/parse-trace.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { TraceUdpServer } from '../../sim/trace/trace-udp-server.ts';

function hostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? 8111 : Number(m[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new KeytapError('CLI_USAGE', `expected HOST:PORT, got "${text}"`);
  return { host: m[1]!, port };
}

/** `keytap simulate --trace FILE --udp HOST:PORT`. */
export const traceMode = {
  name: 'trace',
  options: (y: Argv<any>): Argv<any> =>
    y
      .option('trace', { type: 'string', describe: 'serve this recorded trace (fixtures/traces/...) over --udp instead of the virtual authenticator' })
      .option('loop', { type: 'boolean', default: false, describe: 'with --trace: start over when a client sends INIT after the trace was served' })
      .option('honor-timing', { type: 'boolean', default: false, describe: 'with --trace: wait the recorded "+ms" gaps' }),
  enabled: (a: Record<string, unknown>): boolean => typeof a.trace === 'string',
  async start(
    args: Record<string, unknown>,
    ctx: { stdout: (l: string) => void; stderr: (l: string) => void },
  ): Promise<{ close(): Promise<void> }> {
    const file = String(args.trace);
    if (typeof args.udp !== 'string') throw new KeytapError('CLI_USAGE', '--trace needs --udp HOST:PORT to serve the trace on');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KeytapError('CLI_USAGE', `cannot read trace ${file}: ${(e as Error).message}`);
    }
    let trace;
    try {
      trace = parseTrace(text, { source: file });
    } catch (e) {
      // A malformed trace is a usage error of this command (exit 64), with the line in the message.
      throw new KeytapError('CLI_USAGE', (e as Error).message, { cause: e });
    }
    const { host, port } = hostPort(args.udp);
    const server = await TraceUdpServer.listen(trace, {
      host,
      port,
      allowRemote: args.allowRemote === true,
      loop: args.loop === true,
      source: file,
      replay: { honorTiming: args.honorTiming === true },
      onError: (e) => ctx.stderr(`keytap simulate: ${e.message}`),
      onConsumed: () => ctx.stderr('keytap simulate: trace consumed'),
    });
    const a = server.address;
    ctx.stderr(`keytap simulate: serving trace ${file} (${trace.header.device})`);
    ctx.stdout(`listening udp ${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`);
    return { close: () => server.close() };
  },
};
