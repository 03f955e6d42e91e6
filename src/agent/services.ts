/** What method modules get from the agent (kept apart from agent.ts so they need not import it). */
import type { Logger } from 'pino';
import type { DeviceRegistry } from './device-registry.ts';
import type { DeviceQueue } from './device-queue.ts';
import type { FidoClientFactory } from './fido-ops.ts';
import type { AuditLog } from './audit.ts';
import type { MethodDefinition } from './method-registry.ts';
import type { NotificationName, NotificationMap } from '../api/types.ts';

export interface AgentServices {
  readonly devices: DeviceRegistry;
  /** The FIFO queue of one device (created on first use, dropped when the device detaches). */
  queueFor(deviceId: string): DeviceQueue;
  readonly fidoClient: FidoClientFactory;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** Sends a notification to every initialized connection subscribed to its topic. */
  notify<N extends NotificationName>(method: N, params: NotificationMap[N]): void;
  /** Sends a notification of an extension module (`sim.*` modules may define their own topics' names under the four prefixes). */
  notifyRaw(method: string, params: unknown): void;
  /** Registers an extra method (H5 `sim.card.*`, H6 `sim.*`). */
  registerMethod<P, R>(def: MethodDefinition<P, R>): void;
}
