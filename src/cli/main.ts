/**
 * The `keytap` command line. Each command lives in `commands/<name>.ts` and exports a yargs
 * `CommandModule` as default; `commands/index.ts` lists them and loads only the one that runs.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCommands } from './commands/index.ts';

const args = hideBin(process.argv);
const cli = yargs(args)
  .scriptName('keytap')
  .usage('$0 <command> [options]\n\nLocal device agent for FIDO2 security keys and badge readers.')
  .strict()
  .demandCommand(1, 'Name a command; `keytap --help` lists them.')
  .recommendCommands()
  .wrap(Math.min(100, process.stdout.columns || 100))
  .fail((msg, err) => {
    if (err) throw err;
    console.error(`${msg}\n\nRun \`keytap --help\` for usage.`);
    process.exit(64);
  });
for (const c of await loadCommands(args)) cli.command(c);
await cli.parseAsync();
