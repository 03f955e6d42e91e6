/**
 * Agent configuration from a JSON file, the environment and command-line flags (in that order,
 * later wins), validated at start: every error names the bad key and where it came from.
 * Non-loopback listen addresses are refused (DESIGN.md §6).
 *
 * Default paths: the runtime directory is `$RUNTIME_DIRECTORY` (set by systemd's
 * RuntimeDirectory=, e.g. /run/keytap), else `$XDG_RUNTIME_DIR/keytap`, else
 * `/tmp/keytap-<uid>` (created 0700); the socket is `<runtime>/keytap.sock` and the token file
 * `<runtime>/tokens.json`.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { DEFAULT_PORT, SOCKET_NAME, TOKEN_FILE_NAME, ROLES, type Role } from '../api/constants.ts';
import { ConfigError } from './agent-errors.ts';
import { normaliseOrigin } from './http-gates.ts';
import type { ListenAddress } from './server.ts';

/** Limits (DESIGN.md §6). */
export interface AgentLimits {
  /** Largest inbound WebSocket message (default 64 KiB). */
  maxMessageBytes: number;
  /** Requests pending at once per connection (default 16). */
  maxPendingRequests: number;
  /** Open connections (default 128). */
  maxConnections: number;
  /** Entries in one JSON-RPC batch (default 16). */
  maxBatch: number;
  /** PIN attempts per connection per window (default 5). */
  pinAttemptsPerConnection: number;
  /** PIN attempts per token per window, across reconnects (default 10). */
  pinAttemptsPerToken: number;
  /** The PIN rate-limit window (default 60000 ms). */
  pinAttemptWindowMs: number;
  /** Wrong tokens before a connection is closed (default 3). */
  authFailuresPerConnection: number;
  /** A TCP connection that has not authenticated within this time is closed (default 10000 ms), so idle anonymous sockets cannot fill `maxConnections`. */
  authTimeoutMs: number;
}

/** The resolved configuration. */
export interface AgentConfig {
  listen: ListenAddress[];
  socket: string | null;
  socketMode: number;
  socketRole: Role;
  tokenFile: string;
  allowOrigins: string[];
  /** Simulator profiles to attach (`--simulate`), empty for none. */
  simulate: string[];
  /** Watch USB HID security keys through node-hid (default true). */
  hid: boolean;
  /**
   * Directory for the traffic trace (DESIGN.md §8): one masked trace file per key transaction,
   * in the fixture format (fixtures/README.md). Default null: off.
   */
  traceDir: string | null;
  /** Badge readers (docs/readers.md): `{pcsc?, serial?, hid?, allow?, deny?, quietMs?}`; validated where readers are wired (src/main.ts). */
  readers: Record<string, unknown>;
  logLevel: string;
  /** Default request budget when a call gives no `timeoutMs` (default 30000). */
  requestTimeoutMs: number;
  heartbeatMs: number;
  metrics: boolean;
  limits: AgentLimits;
}

/** The config file / flags shape before resolution (all optional). */
export interface RawConfig {
  listen?: string | string[];
  socket?: string | null | false;
  socketMode?: string | number;
  socketRole?: Role;
  tokenFile?: string;
  allowOrigins?: string[];
  simulate?: string[];
  hid?: boolean;
  traceDir?: string | null;
  readers?: Record<string, unknown>;
  logLevel?: string;
  requestTimeoutMs?: number;
  heartbeatMs?: number;
  metrics?: boolean;
  limits?: Partial<AgentLimits>;
}

export const DEFAULT_LIMITS: AgentLimits = {
  maxMessageBytes: 64 * 1024,
  maxPendingRequests: 16,
  maxConnections: 128,
  maxBatch: 16,
  pinAttemptsPerConnection: 5,
  pinAttemptsPerToken: 10,
  pinAttemptWindowMs: 60_000,
  authFailuresPerConnection: 3,
  authTimeoutMs: 10_000,
};

const int = (min: number, max: number): Record<string, unknown> => ({ type: 'integer', minimum: min, maximum: max });
const rawSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    listen: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
    socket: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }, { const: false }] },
    socketMode: { anyOf: [{ type: 'string', pattern: '^0?[0-7]{3}$' }, int(0, 0o777)] },
    socketRole: { enum: ROLES },
    tokenFile: { type: 'string', minLength: 1 },
    allowOrigins: { type: 'array', items: { type: 'string' } },
    simulate: { type: 'array', items: { type: 'string' } },
    hid: { type: 'boolean' },
    traceDir: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }] },
    readers: { type: 'object' },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    requestTimeoutMs: int(100, 300_000),
    heartbeatMs: int(1000, 3_600_000),
    metrics: { type: 'boolean' },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxMessageBytes: int(1024, 1024 * 1024),
        maxPendingRequests: int(1, 1024),
        maxConnections: int(1, 10_000),
        maxBatch: int(1, 256),
        pinAttemptsPerConnection: int(1, 1000),
        pinAttemptsPerToken: int(1, 10_000),
        pinAttemptWindowMs: int(1000, 86_400_000),
        authFailuresPerConnection: int(1, 100),
        authTimeoutMs: int(100, 600_000),
      },
    },
  },
};
const validateRaw = new Ajv({ allErrors: false, strict: false }).compile(rawSchema);

/** Validates one source; the error names the key (`limits.maxMessageBytes`) and the source. */
export function checkRaw(raw: unknown, source: string): RawConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${source}: the configuration must be a JSON object`);
  if (!validateRaw(raw)) {
    const e = validateRaw.errors![0];
    const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      throw new ConfigError(`${source}: unknown key "${key ? `${key}.` : ''}${extra}"`, { details: { key: `${key ? `${key}.` : ''}${extra}` } });
    }
    throw new ConfigError(`${source}: "${key}" ${e.message ?? 'is invalid'}`, { details: { key } });
  }
  return raw as RawConfig;
}

/** The runtime directory (see the module doc). */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RUNTIME_DIRECTORY) return env.RUNTIME_DIRECTORY.split(':')[0];
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'keytap');
  return `/tmp/keytap-${process.getuid?.() ?? 'user'}`;
}

/** Reads the environment (KEYTAP_*); errors name the variable. */
export function rawFromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const raw: Record<string, unknown> = {};
  const list = (v: string): string[] => v.split(/[\s,]+/).filter(Boolean);
  const bool = (name: string, v: string): boolean => {
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    throw new ConfigError(`environment: ${name} must be true or false, got ${JSON.stringify(v)}`, { details: { key: name } });
  };
  const num = (name: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new ConfigError(`environment: ${name} must be a whole number, got ${JSON.stringify(v)}`, { details: { key: name } });
    return Number(v);
  };
  if (env.KEYTAP_LISTEN) raw.listen = list(env.KEYTAP_LISTEN);
  if (env.KEYTAP_SOCKET !== undefined && env.KEYTAP_SOCKET !== '') raw.socket = env.KEYTAP_SOCKET === 'none' ? false : env.KEYTAP_SOCKET;
  if (env.KEYTAP_TOKEN_FILE) raw.tokenFile = env.KEYTAP_TOKEN_FILE;
  if (env.KEYTAP_ALLOW_ORIGINS) raw.allowOrigins = list(env.KEYTAP_ALLOW_ORIGINS);
  if (env.KEYTAP_SIMULATE) raw.simulate = list(env.KEYTAP_SIMULATE);
  if (env.KEYTAP_HID) raw.hid = bool('KEYTAP_HID', env.KEYTAP_HID);
  if (env.KEYTAP_TRACE_DIR) raw.traceDir = env.KEYTAP_TRACE_DIR;
  if (env.KEYTAP_LOG_LEVEL) raw.logLevel = env.KEYTAP_LOG_LEVEL;
  if (env.KEYTAP_REQUEST_TIMEOUT_MS) raw.requestTimeoutMs = num('KEYTAP_REQUEST_TIMEOUT_MS', env.KEYTAP_REQUEST_TIMEOUT_MS);
  return checkRaw(raw, 'environment (KEYTAP_*)');
}

/** Parses one listen entry: `127.0.0.1:7391`, `[::1]:7391`, `localhost:7391` (both), a bare port (both), or a bare host. */
export function parseListen(entry: string): ListenAddress[] {
  const s = entry.trim();
  let host: string;
  let portText: string | undefined;
  if (/^\d+$/.test(s)) {
    host = 'localhost';
    portText = s;
  } else if (s.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (!m) throw new ConfigError(`listen: cannot parse "${entry}" (use [::1]:PORT)`, { details: { key: 'listen' } });
    host = m[1];
    portText = m[2];
  } else if (isIPv6(s)) {
    host = s;
  } else {
    const i = s.lastIndexOf(':');
    host = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`listen: bad port in "${entry}"`, { details: { key: 'listen' } });
  const h = host.toLowerCase();
  if (h === 'localhost') return [{ host: '127.0.0.1', port }, { host: '::1', port }];
  const loopback = (isIPv4(h) && h.startsWith('127.')) || (isIPv6(h) && (h === '::1' || h === '0:0:0:0:0:0:0:1'));
  if (!loopback) {
    throw new ConfigError(`listen: refusing non-loopback address "${entry}": the agent listens only on 127.0.0.1, ::1 and its unix socket`, { details: { key: 'listen' } });
  }
  return [{ host: h === '0:0:0:0:0:0:0:1' ? '::1' : h, port }];
}

export interface ConfigSources {
  /** Path of a JSON config file (`--config`, or KEYTAP_CONFIG). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Flags from the command line (already in RawConfig form). */
  flags?: RawConfig;
}

/** Merges defaults ← file ← environment ← flags, and validates the result. */
export function resolveConfig(sources: ConfigSources = {}): AgentConfig {
  const env = sources.env ?? process.env;
  const layers: RawConfig[] = [];
  const file = sources.file ?? env.KEYTAP_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`config file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${file}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    layers.push(checkRaw(parsed, `config file ${file}`));
  }
  layers.push(rawFromEnv(env));
  if (sources.flags) layers.push(checkRaw(stripUndefined(sources.flags), 'command line'));

  const merged: RawConfig = {};
  for (const l of layers) {
    const { limits, readers, ...rest } = l;
    Object.assign(merged, rest);
    if (limits) merged.limits = { ...merged.limits, ...limits };
    // Readers merge per key; serial ports from the file and from --serial add up.
    if (readers) {
      const serial = [...((merged.readers?.serial as unknown[]) ?? []), ...((readers.serial as unknown[]) ?? [])];
      merged.readers = { ...merged.readers, ...readers, ...(serial.length ? { serial } : {}) };
    }
  }
  const runtime = defaultRuntimeDir(env);
  const listenEntries = merged.listen === undefined ? [String(DEFAULT_PORT)] : Array.isArray(merged.listen) ? merged.listen : [merged.listen];
  const listen = dedupe(listenEntries.flatMap(parseListen));
  const socket = merged.socket === false || merged.socket === null ? null : (merged.socket ?? join(runtime, SOCKET_NAME));
  const tokenFile = merged.tokenFile ?? join(socket ? dirnameOf(socket) : runtime, TOKEN_FILE_NAME);
  const allowOrigins = (merged.allowOrigins ?? []).map((o, i) => {
    try {
      return normaliseOrigin(o);
    } catch (e) {
      throw new ConfigError(`allowOrigins[${i}]: ${(e as Error).message}`, { details: { key: `allowOrigins[${i}]` } });
    }
  });
  if (allowOrigins.includes('null')) throw new ConfigError('allowOrigins: "null" can never be allowed');
  const socketMode = typeof merged.socketMode === 'string' ? parseInt(merged.socketMode, 8) : (merged.socketMode ?? 0o660);
  return {
    listen,
    socket,
    socketMode,
    socketRole: merged.socketRole ?? 'admin',
    tokenFile,
    allowOrigins,
    simulate: merged.simulate ?? [],
    hid: merged.hid ?? true,
    traceDir: merged.traceDir ?? null,
    readers: merged.readers ?? {},
    logLevel: merged.logLevel ?? 'info',
    requestTimeoutMs: merged.requestTimeoutMs ?? 30_000,
    heartbeatMs: merged.heartbeatMs ?? 30_000,
    metrics: merged.metrics ?? true,
    limits: { ...DEFAULT_LIMITS, ...merged.limits },
  };
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : '.';
}

function dedupe(list: ListenAddress[]): ListenAddress[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = `${a.host}|${a.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
