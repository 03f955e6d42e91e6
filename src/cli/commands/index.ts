import type { CommandModule } from 'yargs';
import badge from './badge.ts';
import devices from './devices.ts';
import doctor from './doctor.ts';
import info from './info.ts';
import pin from './pin.ts';
import readers from './readers.ts';
import record from './record.ts';
import reset from './reset.ts';
import serve from './serve.ts';
import sim from './sim.ts';
import simulate from './simulate.ts';

// One line per command module. Each module's default export is a yargs CommandModule.
// (Helpers add their command here; keep the list sorted by command name.)
export const commands: CommandModule<any, any>[] = [badge, devices, doctor, info, pin, readers, record, reset, serve, sim, simulate];
