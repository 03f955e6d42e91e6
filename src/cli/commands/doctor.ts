/**
 * `keytap doctor`: what is wrong with this machine (DESIGN.md §8). Checks pcscd, PC/SC readers,
 * FIDO HID permissions and udev rules, serial ports, the agent's sockets and token file, Node
 * and its native modules, and vpcd exposure; prints ok / warn / fail per check with what to do.
 *
 * Exit code: 0 when no check failed (warnings allowed), 1 when one did. `--json` prints the
 * report (`schema: "keytap.doctor/1"`) instead of text; docs/doctor.md describes both.
 */
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { ALL_CHECKS, formatReport, runDoctor } from '../doctor/doctor-report.ts';
import { createNodeDoctorEnv } from '../doctor/node-doctor-env.ts';

export interface DoctorArgs {
  json?: boolean;
  verbose?: boolean;
  serial?: string[];
  config?: string;
  only?: string[];
  timeout: number;
}

/** The source tree / package root (this file is src/cli/commands/doctor.ts). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

const command: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe: 'check this machine (pcscd, readers, key permissions, udev, agent, serial, node) and say what to fix',
  builder: (y) =>
    (y as Argv<object>)
      .option('json', { type: 'boolean', describe: 'print the report as JSON (schema keytap.doctor/1)' })
      .option('verbose', { alias: 'v', type: 'boolean', describe: 'also show the details of passing checks' })
      .option('serial', { type: 'string', array: true, describe: 'a configured serial reader, PATH[:PROTOCOL[:BAUD]]; repeatable' })
      .option('config', { type: 'string', describe: 'agent config file to check against (default KEYTAP_CONFIG)' })
      .option('only', { type: 'string', array: true, choices: ALL_CHECKS.map((c) => c.id), describe: 'run only these checks' })
      .option('timeout', { type: 'number', default: 10_000, describe: 'budget for all checks in ms' })
      .example('$0 doctor', 'check everything')
      .example('$0 doctor --json --only pcscd fido-hid', 'two checks, machine-readable') as Argv<DoctorArgs>,
  handler: async (args) => {
    const only = args.only?.map(String);
    const report = await runDoctor({
      env: createNodeDoctorEnv(),
      options: { serial: (args.serial ?? []).map(String), ...(args.config ? { configFile: args.config } : {}), packageRoot: PACKAGE_ROOT },
      checks: only?.length ? ALL_CHECKS.filter((c) => only.includes(c.id)) : ALL_CHECKS,
      timeoutMs: args.timeout,
    });
    const text = args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, { verbose: args.verbose ?? false });
    // Exit explicitly once the text is flushed: native handles (pcsclite, hidapi) may keep the
    // event loop alive after their probes closed.
    process.stdout.write(text, () => process.exit(report.exitCode));
  },
};

export default command;
