/**
 * The reader commands over a running agent: `keytap badge read` and `keytap readers` use the
 * agent when one answers (so taps on the agent's readers, the `--simulate` virtual reader
 * included, are seen), else direct mode. `--direct` or `--serial` force direct mode.
 */
import { KeytapClient } from '../../client/keytap-client.ts';
import { agentEndpoint } from '../agent-backend.ts';
import type { CardEvent } from '../../readers/types.ts';

/** Connects to the agent (client role) or resolves null when none answers within `timeoutMs`. */
export async function connectAgent(timeoutMs = 1500, env: NodeJS.ProcessEnv = process.env): Promise<KeytapClient | null> {
  try {
    return await KeytapClient.connect({ ...agentEndpoint(env), clientInfo: { name: 'keytap-cli' }, timeoutMs });
  } catch {
    return null;
  }
}

/** Waits for the next `card.present` the agent sends (optionally on a reader whose name matches). */
export async function waitForAgentTap(client: KeytapClient, timeoutMs: number, readerPattern?: RegExp): Promise<CardEvent | null> {
  const names = new Map<string, string>();
  for (const d of (await client.devicesList()).devices) if (d.kind === 'reader') names.set(d.id, d.name);
  const got = new Promise<CardEvent | null>((resolve) => {
    const t = setTimeout(() => {
      client.off('card.present', on);
      resolve(null);
    }, timeoutMs);
    const on = (p: { reader: string; uid?: string; atr?: string; cardType?: string; card: Record<string, unknown> }): void => {
      const readerName = String(p.card.readerName ?? names.get(p.reader) ?? p.reader);
      if (readerPattern && !readerPattern.test(readerName)) return;
      clearTimeout(t);
      client.off('card.present', on);
      resolve({
        type: 'card.present',
        reader: p.reader,
        readerName,
        uid: p.uid || String(p.card.uid ?? '') || null,
        atr: p.atr ?? String(p.card.atr ?? ''),
        cardType: p.cardType ?? String(p.card.type ?? 'Unknown'),
        standard: String(p.card.standard ?? 'Unknown'),
        time: String(p.card.time ?? new Date().toISOString()),
        ...(typeof p.card.facility === 'number' ? { facility: p.card.facility, cardNumber: p.card.cardNumber as number } : {}),
        ...(p.card.fido === true ? { fido: true } : {}),
      });
    };
    client.on('card.present', on);
  });
  await client.subscribe(['card']);
  return got;
}
