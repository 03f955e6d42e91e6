/**
 * The `readers` section of the agent's configuration and factories for every reader source
 * (`createPcscReaderSource`, `createSerialReaderSource`, `createHidReaderSource`).
 *
 * ```json
 * "readers": {
 *   "pcsc": true,
 *   "serial": ["/dev/ttyUSB0:em4100", { "path": "/dev/ttyS1", "protocol": "pn532", "baudRate": 115200 }],
 *   "hid": [{ "protocol": "pcprox" }, { "protocol": "keyboard", "vidPid": "ffff:0035" }],
 *   "allow": ["name:^ACS ACR122"], "deny": ["vidpid:1050:*"]
 * }
 * ```
 */
import { parseSerialSpec, DEFAULT_BAUD, type SerialPortSpec, type SerialProtocol } from '../drivers/serial/serial-spec.ts';
import { PcscReaderSource, type PcscReaderSourceOptions } from './pcsc-reader-source.ts';
import { SerialReaderSource, type SerialReaderSourceOptions } from './serial-reader-source.ts';
import { HidReaderSource, type HidReaderConfig, type HidReaderSourceOptions } from './hid-reader-source.ts';
import { parseReaderRule, type ReaderRules } from './reader-rules.ts';
import type { ReaderSource } from './types.ts';
import { Ajv } from 'ajv';
import { KeytapError } from '../protocol/errors.ts';

export interface ReadersConfig {
  /** Watch PC/SC readers through pcscd (default true). */
  pcsc?: boolean;
  /** Serial readers: `PATH:PROTOCOL[:BAUD]` strings or objects. */
  serial?: Array<string | { path: string; protocol: SerialProtocol; baudRate?: number }>;
  /** HID readers (pcProx by VID:PID 0c27:3bfa; keyboard wedges need their VID:PID). */
  hid?: HidReaderConfig[];
  /** Rule texts: `name:REGEX`, `vidpid:VVVV:PPPP`. */
  allow?: string[];
  /** Replaces the default deny list (security keys' CCID interfaces) when given. */
  deny?: string[];
  /** Serial/HID: quiet period before `card.removed` (default 500 ms). */
  quietMs?: number;
}

/** JSON Schema of `ReadersConfig` (for the agent's config validation). */
export const readersConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pcsc: { type: 'boolean' },
    serial: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'string', minLength: 3 },
          {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'protocol'],
            properties: { path: { type: 'string', minLength: 1 }, protocol: { enum: ['em4100', 'pn532'] }, baudRate: { type: 'integer', minimum: 50, maximum: 4000000 } },
          },
        ],
      },
    },
    hid: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['protocol'],
        properties: { protocol: { enum: ['pcprox', 'keyboard'] }, vidPid: { type: 'string', pattern: '^[0-9a-fA-F]{4}:([0-9a-fA-F]{4}|\\*)$' } },
      },
    },
    allow: { type: 'array', items: { type: 'string' } },
    deny: { type: 'array', items: { type: 'string' } },
    quietMs: { type: 'integer', minimum: 50, maximum: 60000 },
  },
} as const;

/** Parses rule texts into `ReaderRules`. */
export function rulesFrom(c: ReadersConfig): ReaderRules {
  return {
    ...(c.allow ? { allow: c.allow.map(parseReaderRule) } : {}),
    ...(c.deny ? { deny: c.deny.map(parseReaderRule) } : {}),
  };
}

/** Normalises `serial` entries (strings parsed from the right). */
export function serialPortsFrom(c: ReadersConfig): SerialPortSpec[] {
  return (c.serial ?? []).map((e) => (typeof e === 'string' ? parseSerialSpec(e) : { path: e.path, protocol: e.protocol, baudRate: e.baudRate ?? DEFAULT_BAUD[e.protocol] }));
}

type Log = (msg: string, details?: Record<string, unknown>) => void;

export function createPcscReaderSource(c: ReadersConfig, options: Partial<PcscReaderSourceOptions> = {}): PcscReaderSource {
  return new PcscReaderSource({ rules: rulesFrom(c), ...options });
}

export function createSerialReaderSource(c: ReadersConfig, options: Partial<SerialReaderSourceOptions> = {}): SerialReaderSource {
  return new SerialReaderSource({ ports: serialPortsFrom(c), ...(c.quietMs ? { quietMs: c.quietMs } : {}), ...options });
}

export function createHidReaderSource(c: ReadersConfig, options: Partial<HidReaderSourceOptions> = {}): HidReaderSource {
  return new HidReaderSource({ readers: c.hid ?? [], rules: rulesFrom(c), ...(c.quietMs ? { quietMs: c.quietMs } : {}), ...options });
}

/** Every configured source, named for the agent (`pcsc`, `serial`, `hidreader`); not yet started. */
export function createReaderSources(c: ReadersConfig, log?: Log): Array<{ name: string; source: ReaderSource }> {
  const out: Array<{ name: string; source: ReaderSource }> = [];
  if (c.pcsc ?? true) out.push({ name: 'pcsc', source: createPcscReaderSource(c, log ? { log } : {}) });
  if ((c.serial ?? []).length > 0) out.push({ name: 'serial', source: createSerialReaderSource(c, log ? { log } : {}) });
  if ((c.hid ?? []).length > 0) out.push({ name: 'hidreader', source: createHidReaderSource(c, log ? { log } : {}) });
  return out;
}

const validateReaders = new Ajv({ allErrors: false, strict: false }).compile(readersConfigSchema);

/**
 * Validates the `readers` section (the agent keeps it opaque). Throws `KeytapError`
 * CONFIG_INVALID naming the key, e.g. `readers.serial[0]: ...`.
 */
export function checkReadersConfig(raw: unknown): ReadersConfig {
  const fail = (key: string, msg: string): never => {
    throw new KeytapError('CONFIG_INVALID', `${key}: ${msg}`, { details: { key } });
  };
  if (!validateReaders(raw)) {
    const e = validateReaders.errors![0]!;
    fail(`readers${e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`, e.message ?? 'invalid');
  }
  const c = raw as ReadersConfig;
  (c.serial ?? []).forEach((s, i) => {
    if (typeof s === 'string') {
      try {
        parseSerialSpec(s);
      } catch (e) {
        fail(`readers.serial[${i}]`, (e as Error).message);
      }
    }
  });
  for (const k of ['allow', 'deny'] as const) {
    (c[k] ?? []).forEach((r, i) => {
      try {
        parseReaderRule(r);
      } catch (e) {
        fail(`readers.${k}[${i}]`, (e as Error).message);
      }
    });
  }
  return c;
}
