/**
 * Adapts a `ReaderSource` to the agent's provider slots (src/agent/providers.ts): a reader
 * provider (reader devices + card events) and an authenticator provider (FIDO keys tapped on
 * a PC/SC reader). The shapes are structural so readers need not import the agent
 * (DESIGN.md §1); src/main.ts hands the results to `agent.addProvider`.
 */
import type { CtapTransport } from '../fido/ctap-transport.ts';
import type { CardEvent, NfcAuthenticatorDevice, ReaderDevice, ReaderSource, ReaderSourceDevice } from './types.ts';

type Ev<T> = { type: 'attached' | 'detached' | 'changed'; device: T };

/** What the agent lists for a reader (`key` is stable within the provider). */
export interface AgentReaderDevice {
  kind: 'reader';
  key: string;
  name: string;
  transport: string;
  vendorId?: number;
  productId?: number;
  extra?: Record<string, unknown>;
}

export interface AgentNfcAuthenticator {
  kind: 'authenticator';
  key: string;
  name: string;
  transport: 'nfc';
  extra?: Record<string, unknown>;
  open(signal?: AbortSignal): Promise<CtapTransport>;
}

/** The agent's card event: `card` carries uid/atr hex and the card type. */
export interface AgentCardEvent {
  type: 'card.present' | 'card.removed';
  readerKey: string;
  card: { uid: string; atr?: string; type?: string; [key: string]: unknown };
}

export interface AgentProviders {
  readers: {
    name: string;
    list(): Promise<AgentReaderDevice[]>;
    watch(l: (e: Ev<AgentReaderDevice>) => void): () => void;
    watchCards(l: (e: AgentCardEvent) => void): () => void;
    close(): Promise<void>;
  };
  authenticators: {
    name: string;
    list(): Promise<AgentNfcAuthenticator[]>;
    watch(l: (e: Ev<AgentNfcAuthenticator>) => void): () => void;
    close(): Promise<void>;
  };
}

function toReader(d: ReaderDevice): AgentReaderDevice {
  return {
    kind: 'reader',
    key: d.id,
    name: d.name,
    transport: d.transport,
    ...(d.vendorId !== undefined ? { vendorId: d.vendorId } : {}),
    ...(d.productId !== undefined ? { productId: d.productId } : {}),
    extra: { protocol: d.protocol, ...(d.path ? { path: d.path } : {}) },
  };
}

function toAuthenticator(d: NfcAuthenticatorDevice): AgentNfcAuthenticator {
  return { kind: 'authenticator', key: d.id, name: d.name, transport: 'nfc', extra: { reader: d.reader, nfcVersion: d.version }, open: (s) => d.open(s) };
}

/** The card payload of a notification: uid, atr, type plus cardType/standard/time (and Wiegand fields). */
export function cardPayload(e: CardEvent): AgentCardEvent['card'] {
  return {
    uid: e.uid ?? '',
    atr: e.atr,
    type: e.cardType,
    cardType: e.cardType,
    standard: e.standard,
    time: e.time,
    readerName: e.readerName,
    ...(e.facility !== undefined ? { facility: e.facility, cardNumber: e.cardNumber } : {}),
    ...(e.fido ? { fido: true } : {}),
  };
}

/**
 * Providers for `source` named `name` (`pcsc`, `serial`, `hid`, `vreader`); the NFC
 * authenticator provider is `<name>-nfc`. Closing either closes the source once.
 */
export function agentProvidersFor(source: ReaderSource, name: string): AgentProviders {
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => (closed ??= source.close());
  const isReader = (d: ReaderSourceDevice): d is ReaderDevice => d.kind === 'reader';
  const isAuth = (d: ReaderSourceDevice): d is NfcAuthenticatorDevice => d.kind === 'authenticator';
  return {
    readers: {
      name,
      list: async () => (await source.list()).filter(isReader).map(toReader),
      watch: (l) => source.watch((e) => (isReader(e.device) ? l({ type: e.type, device: toReader(e.device) }) : undefined)),
      watchCards: (l) => source.cards((e) => l({ type: e.type, readerKey: e.reader, card: cardPayload(e) })),
      close,
    },
    authenticators: {
      name: `${name}-nfc`,
      list: async () => (await source.list()).filter(isAuth).map(toAuthenticator),
      watch: (l) => source.watch((e) => (isAuth(e.device) ? l({ type: e.type, device: toAuthenticator(e.device) }) : undefined)),
      close,
    },
  };
}
