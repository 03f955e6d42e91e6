import type { CommandModule } from 'yargs';
import doctor from './doctor.ts';
import record from './record.ts';
import serve from './serve.ts';
import simulate from './simulate.ts';

// One line per command module. Each module's default export is a yargs CommandModule.
// (Helpers add their command here; keep the list sorted by command name.)
export const commands: CommandModule<any, any>[] = [doctor, record, serve, simulate];
