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

/** Parses `HOST:PORT` from the right (so IPv6 literals like `[::1]:35963` work). */
export function parseHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  if (i <= 0) throw new RangeError(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(text.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`bad port in ${JSON.stringify(text)}`);
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
