/**
 * The built-in methods: `initialize`, `devices.list`, `events.subscribe`, `events.unsubscribe`
 * and `$/cancelRequest` (DESIGN.md §5).
 */
import { methodParamSchemas } from '../api/schema.ts';
import { PROTOCOL_VERSION, TOPICS, type Topic } from '../api/constants.ts';
import type { InitializeParams, InitializeResult, SubscribeParams, CancelParams, DevicesListResult, SubscribeResult } from '../api/types.ts';
import type { AgentServices } from './services.ts';
import { UnauthorizedError } from './agent-errors.ts';

export interface CoreInfo {
  /** The effective configuration for `config.get` (admin); holds paths and limits, no secrets. */
  config(): Record<string, unknown>;
  /** The agent's version (package.json). */
  version: string;
  transports: string[];
  limits: { maxMessageBytes: number; maxPendingRequests: number };
  /** All method names, for `capabilities.methods`. */
  methods(): string[];
}

export function registerCoreMethods(agent: AgentServices, info: CoreInfo): void {
  agent.registerMethod<InitializeParams, InitializeResult>({
    name: 'initialize',
    params: methodParamSchemas.initialize,
    role: 'client',
    secretParams: ['token'],
    handler(_params, ctx) {
      const token = ctx.secrets.token;
      if (token) ctx.connection.authenticate(token);
      else if (!ctx.connection.authenticated) throw new UnauthorizedError('this connection needs a token: pass params.token (browsers) or an Authorization: Bearer header');
      ctx.connection.markInitialized();
      return {
        version: info.version,
        protocolVersion: PROTOCOL_VERSION,
        role: ctx.connection.role ?? 'client',
        capabilities: { methods: info.methods(), topics: TOPICS, transports: info.transports, limits: info.limits },
        connectionId: ctx.caller.connectionId,
      };
    },
  });

  agent.registerMethod<Record<string, never>, Record<string, unknown>>({
    name: 'config.get',
    params: methodParamSchemas['config.get'],
    role: 'admin',
    handler: () => info.config(),
  });

  agent.registerMethod<Record<string, never>, DevicesListResult>({
    name: 'devices.list',
    params: methodParamSchemas['devices.list'],
    role: 'client',
    handler: () => ({ devices: agent.devices.list() }),
  });

  agent.registerMethod<SubscribeParams, SubscribeResult>({
    name: 'events.subscribe',
    params: methodParamSchemas['events.subscribe'],
    role: 'client',
    handler: (p, ctx) => ({ topics: ctx.connection.subscribe((p.topics ?? TOPICS) as Topic[]) }),
  });

  agent.registerMethod<SubscribeParams, SubscribeResult>({
    name: 'events.unsubscribe',
    params: methodParamSchemas['events.unsubscribe'],
    role: 'client',
    handler: (p, ctx) => ({ topics: ctx.connection.unsubscribe((p.topics ?? TOPICS) as Topic[]) }),
  });

  agent.registerMethod<CancelParams, { cancelled: boolean }>({
    name: '$/cancelRequest',
    params: methodParamSchemas['$/cancelRequest'],
    role: 'client',
    handler: (p, ctx) => ({ cancelled: ctx.connection.cancel(p.id) }),
  });
}

