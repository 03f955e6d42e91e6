/**
 * `keytap simulate --vpcd HOST:PORT --card UID[:ATR]` and
 * `keytap simulate --vpcd HOST:PORT --authenticator [--profile NAME] [--pin PIN]`:
 * a virtual badge or the virtual authenticator (as an NFC key) on the real PC/SC stack.
 * These command forms are a contract for HIL scripts; the ready line is
 * `connected vpcd HOST:PORT` (printed again after every reconnect).
 */
import { VpcdCardClient } from './vpcd-card-client.ts';
import { VirtualBadgeCard, type VirtualCard } from './virtual-card.ts';
import { FidoNfcCard } from './fido-nfc-card.ts';
import { VirtualAuthenticator } from '../authenticator/virtual-authenticator.ts';
import { createSimEnv, type TouchPolicy } from '../env.ts';
import { loadProfile } from '../profiles.ts';
import { Pin } from '../../protocol/secret.ts';
import { KeytapError } from '../../protocol/errors.ts';

/** Parses `HOST:PORT` from the right (so IPv6 literals like `[::1]:35963` work). */
export function parseHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  if (i <= 0) throw new KeytapError('CLI_USAGE', `expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(text.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new KeytapError('CLI_USAGE', `bad port in ${JSON.stringify(text)}`);
  return { host: text.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

export interface VpcdSimulationOptions {
  vpcd: string;
  /** `UID[:ATR]` hex: present a badge. */
  card?: string;
  /** Present the virtual authenticator as an NFC key. */
  authenticator?: boolean;
  profile?: string;
  /** Initial PIN of a fresh virtual authenticator (taken as `Pin`, never printed). */
  pin?: string;
  touch?: TouchPolicy;
  /** JSON state file for the authenticator (default in memory). */
  state?: string;
  quickAck?: 'auto' | 'off';
  /** Lines for the user (default console.log). */
  print?: (line: string) => void;
}

/** Starts the card and keeps it in the field; resolves with a handle once vpcd accepted it. */
export async function startVpcdSimulation(o: VpcdSimulationOptions): Promise<{ client: VpcdCardClient; card: VirtualCard; stop: () => void }> {
  const { host, port } = parseHostPort(o.vpcd);
  const print = o.print ?? ((l: string) => console.log(l));
  let card: VirtualCard;
  if (o.authenticator) {
    const env = createSimEnv({ touchPolicy: o.touch ?? 'auto', storagePath: o.state });
    const initialPin = o.pin !== undefined ? Pin.fromString(o.pin) : undefined;
    const auth = new VirtualAuthenticator({ profile: loadProfile(o.profile), env, initialPin });
    initialPin?.wipe();
    card = new FidoNfcCard(auth);
  } else if (o.card) {
    card = VirtualBadgeCard.fromSpec(o.card);
  } else throw new RangeError('--vpcd needs --card UID[:ATR] or --authenticator');
  const client = new VpcdCardClient(card, { host, port, quickAck: o.quickAck });
  client.on('connected', () => print(`connected vpcd ${host}:${port}`));
  client.on('disconnected', () => print(`disconnected vpcd ${host}:${port}; reconnecting`));
  client.on('error', () => {
    /* refused while pcscd restarts: the client retries with backoff */
  });
  await client.insert();
  return { client, card, stop: () => client.close() };
}

/**
 * The `--vpcd` mode of `keytap simulate` (structurally a `SimulateMode` of
 * src/cli/commands/simulate.ts; sim may not import the CLI). With `--card UID[:ATR]` it presents
 * a badge, with `--authenticator` the simulator's virtual key as an NFC card. SIGUSR1 (power
 * cycle) taps the card out and in again, as lifting a key off a reader does.
 */
export const vpcdSimulateMode = {
  name: 'vpcd',
  options: <Y extends { option(name: string, o: object): Y }>(y: Y): Y =>
    y
      .option('vpcd', { type: 'string', describe: "present a virtual card to pcscd through vsmartcard's vpcd at HOST:PORT (35963 = 'Virtual PCD 00 00', 35964 = '... 00 01')" })
      .option('card', { type: 'string', describe: 'with --vpcd: a badge with this UID and optional ATR (hex UID[:ATR]; default ATR MIFARE Classic 1K)' })
      .option('authenticator', { type: 'boolean', describe: 'with --vpcd: present the virtual authenticator as an NFC FIDO key' })
      .option('quick-ack', { choices: ['auto', 'off'], default: 'auto', describe: 'with --vpcd: avoid the ~44 ms delayed-ACK cost per APDU through a python3 TCP_QUICKACK relay when python3 exists' }),
  enabled: (a: Record<string, unknown>): boolean => typeof a.vpcd === 'string',
  async start(
    a: Record<string, unknown>,
    ctx: { authenticator: VirtualAuthenticator; stdout: (l: string) => void; stderr: (l: string) => void },
  ): Promise<{ powerCycle(): void; close(): Promise<void> }> {
    const { host, port } = parseHostPort(String(a.vpcd));
    let card: VirtualCard;
    if (typeof a.card === 'string') card = VirtualBadgeCard.fromSpec(a.card);
    else if (a.authenticator === true) card = new FidoNfcCard(ctx.authenticator);
    else throw new KeytapError('CLI_USAGE', '--vpcd needs --card UID[:ATR] or --authenticator');
    const client = new VpcdCardClient(card, { host, port, quickAck: a.quickAck === 'off' ? 'off' : 'auto' });
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    client.on('connected', () => ctx.stdout(`connected vpcd ${where}`));
    let stopping = false;
    client.on('disconnected', () => {
      if (!stopping) ctx.stderr(`keytap simulate: vpcd ${where} closed; reconnecting`);
    });
    client.on('error', () => {
      /* refused while pcscd is down or restarting: the client retries with backoff */
    });
    await client.insert();
    return {
      powerCycle: () => {
        client.remove();
        void client.insert();
      },
      close: async () => {
        stopping = true;
        client.close();
      },
    };
  },
};
