/**
 * The audit trail (DESIGN.md §6): every PIN set/change/verify and every reset attempt is one
 * structured log line (`audit: true`): who (connection, role, identity, transport, origin),
 * which device, the outcome (`ok` or the error code) and the retries left afterwards. Never a PIN.
 */
import type { Logger } from 'pino';
import type { CallerInfo } from './method-registry.ts';

export type AuditAction = 'pin.set' | 'pin.change' | 'pin.verify' | 'reset';

export interface AuditEvent {
  action: AuditAction;
  caller: CallerInfo;
  device: string;
  outcome: string;
  retriesLeft?: number | null;
  ctapStatus?: number;
}

export class AuditLog {
  constructor(readonly logger: Logger) {}

  record(e: AuditEvent): void {
    this.logger.info(
      {
        audit: true,
        event: e.action,
        who: { connection: e.caller.connectionId, role: e.caller.role, identity: e.caller.identity, transport: e.caller.transport, origin: e.caller.origin },
        device: e.device,
        outcome: e.outcome,
        retriesLeft: e.retriesLeft,
        ctapStatus: e.ctapStatus,
      },
      `audit ${e.action} ${e.outcome}`,
    );
  }
}
