import type { CommandModule } from 'yargs';

type Loader = () => Promise<{ default: CommandModule<any, any> }>;

/**
 * Every command, by the name typed after `keytap`, with a lazy loader: a command's module
 * (and the native addons it pulls in: node-hid, pcsclite, serialport) is imported only when
 * that command runs, which keeps `keytap <cmd>` and `keytap serve` start-up short. Help and
 * unknown names load them all. Keep the list sorted by command name.
 */
export const commandLoaders: Record<string, Loader> = {
  badge: () => import('./badge.ts'),
  devices: () => import('./devices.ts'),
  doctor: () => import('./doctor.ts'),
  info: () => import('./info.ts'),
  pin: () => import('./pin.ts'),
  readers: () => import('./readers.ts'),
  record: () => import('./record.ts'),
  reset: () => import('./reset.ts'),
  serve: () => import('./serve.ts'),
  sim: () => import('./sim.ts'),
  simulate: () => import('./simulate.ts'),
};

/** The modules needed for `argv` (after `keytap`): the named command's, or all of them. */
export async function loadCommands(argv: readonly string[]): Promise<CommandModule<any, any>[]> {
  const name = argv[0];
  const one = name !== undefined && Object.hasOwn(commandLoaders, name) ? commandLoaders[name] : undefined;
  const loaders = one ? [one] : Object.values(commandLoaders);
  return (await Promise.all(loaders.map((l) => l()))).map((m) => m.default);
}
