/**
 * The simulator control plane for the virtual badge reader (DESIGN.md §7, admin role):
 *   sim.card.present {uid, atr?} → {reader, uid, atr, cardType}
 *   sim.card.remove {}          → {removed: boolean, uid?}
 * Definitions are structural `MethodDefinition`s (sim may not import the agent); src/main.ts
 * registers them with `agent.registerMethod`.
 */
import { KeytapError } from '../../protocol/errors.ts';
import type { VirtualReaderSource } from './virtual-reader.ts';

const HEX = '^(?:[0-9a-fA-F]{2}[:\\s-]?)+$';

export interface SimCardMethod {
  name: string;
  params: Record<string, unknown>;
  role: 'admin';
  handler(params: any): unknown;
}

export function simCardMethods(reader: VirtualReaderSource, publicReaderId?: () => string | undefined): SimCardMethod[] {
  const rid = (): string => publicReaderId?.() ?? reader.device.id;
  return [
    {
      name: 'sim.card.present',
      role: 'admin',
      params: {
        type: 'object',
        additionalProperties: false,
        required: ['uid'],
        properties: { uid: { type: 'string', pattern: HEX, maxLength: 40 }, atr: { type: 'string', pattern: HEX, maxLength: 100 } },
      },
      handler(p: { uid: string; atr?: string }) {
        let ev;
        try {
          ev = reader.present(p.uid, p.atr);
        } catch (e) {
          throw new KeytapError('INVALID_PARAMS', `sim.card.present: ${(e as Error).message}`);
        }
        return { reader: rid(), uid: ev.uid, atr: ev.atr, cardType: ev.cardType };
      },
    },
    {
      name: 'sim.card.remove',
      role: 'admin',
      params: { type: 'object', additionalProperties: false, properties: {} },
      handler() {
        const ev = reader.remove();
        return ev ? { removed: true, uid: ev.uid, reader: rid() } : { removed: false };
      },
    },
  ];
}
