import type { CommandModule } from 'yargs';
import devices from './devices.ts';
import doctor from './doctor.ts';
import info from './info.ts';
import pin from './pin.ts';
import record from './record.ts';
import reset from './reset.ts';
import serve from './serve.ts';
import sim from './sim.ts';
import simulate from './simulate.ts';

// One line per command module. Each module's default export is a yargs CommandModule.
// (Helpers add their command here; keep the list sorted by command name.)
export const commands: CommandModule<any, any>[] = [devices, doctor, info, pin, record, reset, serve, sim, simulate];
