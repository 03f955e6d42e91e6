/**
 * Fault injection between a host and a (virtual or recorded) HID device (DESIGN.md §7): wrap
 * the device's connections and arm one fault at a time. Every fault shows up at the client as
 * a typed error (DEVICE_REMOVED, PROTOCOL_ERROR, DEVICE_BUSY, TIMEOUT), never as a hang, and
 * the device behind keeps its true state.
 *
 * | fault | effect | what the client sees |
 * |---|---|---|
 * | `disconnect` at message N | the N-th host message after arming unplugs the device, before or after the device processed it | `DeviceRemovedError` |
 * | `corrupt` | the next device reply gets an invalid command byte (or a broken continuation sequence) | `ProtocolError` |
 * | `busy` for N ms | host messages are answered with CTAPHID_ERROR CHANNEL_BUSY until N ms passed | retries, then `DeviceBusyError` past its deadline |
 * | `stall` | the next request gets keepalives then silence (`keepalives: 'stop'`), or keepalives forever (`'forever'`, a tarpit) | `TimeoutError` from the keepalive watchdog / the deadline |
 * | `slow` by N ms | every device report is delayed N ms | `TimeoutError` when the deadline is shorter |
 */
import type { HidConnection } from '../../drivers/hid-connection.ts';
import { CancelledError, DeviceRemovedError, TimeoutError } from '../../protocol/transport-errors.ts';
import { KeytapError } from '../../protocol/errors.ts';
import { encodeFrames } from '../../protocol/ctaphid/framing.ts';
import { CtapHidCmd, CtapHidErrorCode, KeepaliveStatus } from '../../protocol/ctaphid/constants.ts';
import { readU32BE } from '../../util/bytes.ts';
import { systemClock, type Clock } from '../../util/deadline.ts';

/** One fault, as `sim.fault` takes it. */
export type FaultSpec =
  | { kind: 'disconnect'; atMessage?: number; phase?: 'before' | 'after' }
  | { kind: 'corrupt'; target?: 'cmd' | 'seq' }
  | { kind: 'busy'; ms: number }
  | { kind: 'stall'; keepalives?: 'stop' | 'forever' }
  | { kind: 'slow'; delayMs: number };

export const FAULT_KINDS = ['disconnect', 'corrupt', 'busy', 'stall', 'slow'] as const;

/** An invalid fault description (`sim.fault` parameters). */
export class FaultSpecError extends KeytapError {
  constructor(message: string) {
    super('SIM_FAULT_INVALID', message);
  }
}

/** Checks and normalises a fault description. Throws `FaultSpecError`. */
export function parseFaultSpec(raw: Record<string, unknown>): FaultSpec {
  const int = (v: unknown, name: string, min: number, max: number, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new FaultSpecError(`${name} must be an integer ${min}…${max}`);
    return v;
  };
  switch (raw.kind) {
    case 'disconnect': {
      const phase = raw.phase ?? 'before';
      if (phase !== 'before' && phase !== 'after') throw new FaultSpecError('phase must be "before" or "after"');
      return { kind: 'disconnect', atMessage: int(raw.atMessage, 'atMessage', 1, 10_000, 1), phase };
    }
    case 'corrupt': {
      const target = raw.target ?? 'cmd';
      if (target !== 'cmd' && target !== 'seq') throw new FaultSpecError('target must be "cmd" or "seq"');
      return { kind: 'corrupt', target };
    }
    case 'busy':
      return { kind: 'busy', ms: int(raw.ms, 'ms', 1, 600_000) };
    case 'stall': {
      const k = raw.keepalives ?? 'stop';
      if (k !== 'stop' && k !== 'forever') throw new FaultSpecError('keepalives must be "stop" or "forever"');
      return { kind: 'stall', keepalives: k };
    }
    case 'slow':
      return { kind: 'slow', delayMs: int(raw.delayMs, 'delayMs', 1, 600_000) };
    default:
      throw new FaultSpecError(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
}

/** Options of `FaultInjector`. */
export interface FaultInjectorOptions {
  /** Unplugs the device behind (a `disconnect` fault calls it). */
  onDisconnect?: () => void;
  /** Clock for `busy`. Default `Date.now`. */
  clock?: Clock;
  /** Keepalive period of a `stall` with `keepalives: 'forever'`. Default 100 ms (OpenSK). */
  keepaliveIntervalMs?: number;
}

interface Armed {
  spec: FaultSpec;
  count: number;
  until?: number;
}

/** Holds the armed fault and wraps connections so it applies to them. */
export class FaultInjector {
  #armed: Armed | null = null;
  /** Faults that fired, most recent last (for `sim.status` and tests). */
  readonly fired: FaultSpec[] = [];
  readonly #o: FaultInjectorOptions;

  constructor(options: FaultInjectorOptions = {}) {
    this.#o = options;
  }

  /** Arms `spec` (replacing any armed fault). `busy` starts counting now. */
  arm(spec: FaultSpec): void {
    this.#armed = { spec, count: 0, ...(spec.kind === 'busy' ? { until: this.now() + spec.ms } : {}) };
  }

  /** Disarms whatever is armed. */
  clear(): void {
    this.#armed = null;
  }

  /** The armed fault, if any. */
  get armed(): FaultSpec | null {
    return this.#armed?.spec ?? null;
  }

  /** Wraps a connection to the device. */
  wrap(conn: HidConnection): HidConnection {
    return new FaultyConnection(conn, this);
  }

  /** @internal */
  now(): number {
    return (this.#o.clock ?? systemClock)();
  }
  /** @internal */
  get state(): Armed | null {
    return this.#armed;
  }
  /** @internal Marks the armed fault as spent. */
  fire(): void {
    if (this.#armed) this.fired.push(this.#armed.spec);
    this.#armed = null;
  }
  /** @internal */
  disconnectDevice(): void {
    this.#o.onDisconnect?.();
  }
  /** @internal */
  get keepaliveIntervalMs(): number {
    return this.#o.keepaliveIntervalMs ?? 100;
  }
}

type Pending = { report: Uint8Array } | { error: Error };

class FaultyConnection implements HidConnection {
  readonly inputReportSize: number;
  readonly outputReportSize: number;
  /** Reports the injector makes up (CHANNEL_BUSY, keepalives), served before the device's. */
  #injected: Pending[] = [];
  #removed = false;
  /** A request whose reply is to be swallowed: channel and how. */
  #swallow: { cid: number; then: 'disconnect' | 'stall' | 'forever' } | null = null;
  #corruptNext: 'cmd' | 'seq' | null = null;

  constructor(
    private readonly inner: HidConnection,
    private readonly fi: FaultInjector,
  ) {
    this.inputReportSize = inner.inputReportSize;
    this.outputReportSize = inner.outputReportSize;
  }

  async write(report: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#removed) throw new DeviceRemovedError('the device was unplugged (injected fault)');
    const a = this.fi.state;
    const isInit = (report[4]! & 0x80) !== 0;
    const cid = readU32BE(report, 0);
    const cmd = report[4]! & 0x7f;
    // The host gave up on a stalled request (CANCEL or a new message): stop stalling.
    if (isInit && this.#swallow && this.#swallow.then !== 'disconnect') this.#swallow = null;
    if (a && isInit && cmd !== CtapHidCmd.CANCEL) {
      const s = a.spec;
      if (s.kind === 'disconnect') {
        a.count++;
        if (a.count >= (s.atMessage ?? 1)) {
          this.fi.fire();
          if (s.phase === 'after') {
            await this.inner.write(report, signal);
            this.#swallow = { cid, then: 'disconnect' };
            return;
          }
          this.#unplug();
          throw new DeviceRemovedError('the device was unplugged (injected fault: disconnect at message ' + (s.atMessage ?? 1) + ')');
        }
      } else if (s.kind === 'busy' && cid !== 0xffffffff) {
        if (this.fi.now() < a.until!) {
          // Swallow the request; the device is "busy with another channel" (CTAP 2.1 §11.2.9.1.6).
          for (const f of encodeFrames(cid, CtapHidCmd.ERROR, new Uint8Array([CtapHidErrorCode.CHANNEL_BUSY]), this.inputReportSize)) this.#injected.push({ report: f });
          this.#dropContinuations = cid;
          return;
        }
        this.fi.fire();
      } else if (s.kind === 'stall' && cid !== 0xffffffff && cmd === CtapHidCmd.CBOR) {
        this.fi.fire();
        // The request never reaches the device (its state stays true); the host sees a keepalive, then nothing.
        this.#dropContinuations = cid;
        this.#swallow = { cid, then: s.keepalives === 'forever' ? 'forever' : 'stall' };
        for (const f of encodeFrames(cid, CtapHidCmd.KEEPALIVE, new Uint8Array([KeepaliveStatus.PROCESSING]), this.inputReportSize)) this.#injected.push({ report: f });
        return;
      } else if (s.kind === 'corrupt' && cid !== 0xffffffff) {
        this.fi.fire();
        this.#corruptNext = s.target ?? 'cmd';
      }
    }
    if (!isInit && this.#dropContinuations === cid) return;
    if (isInit) this.#dropContinuations = null;
    await this.inner.write(report, signal);
  }

  #dropContinuations: number | null = null;

  async read(timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#removed) throw new DeviceRemovedError('the device was unplugged (injected fault)');
    const inj = this.#injected.shift();
    if (inj) {
      if ('error' in inj) throw inj.error;
      return inj.report;
    }
    const sw = this.#swallow;
    if (sw && sw.then !== 'disconnect') return this.#stall(sw.then, sw.cid, timeoutMs, signal);
    const a = this.fi.state;
    const slow = a?.spec.kind === 'slow' ? a.spec.delayMs : 0;
    const started = this.fi.now();
    for (;;) {
      const r = await this.inner.read(timeoutMs, signal);
      if (slow) {
        // A slow device: the report shows up `delayMs` later, within the caller's read timeout.
        const wait = Math.min(slow, Math.max(0, timeoutMs - (this.fi.now() - started)));
        await delay(wait, signal);
        if (wait < slow) throw new TimeoutError(`no HID report within ${timeoutMs} ms (injected fault: slow device)`);
      }
      if (sw && sw.then === 'disconnect' && readU32BE(r, 0) === sw.cid && r[4] !== (0x80 | CtapHidCmd.KEEPALIVE)) {
        // The device processed the request; the host never sees the answer.
        this.#swallow = null;
        this.#unplug();
        throw new DeviceRemovedError('the device was unplugged after it processed the request (injected fault)');
      }
      if (this.#corruptNext && readU32BE(r, 0) !== 0xffffffff && r[4] !== (0x80 | CtapHidCmd.KEEPALIVE)) {
        const out = r.slice();
        if (this.#corruptNext === 'cmd' && out[4]! & 0x80) out[4] = 0x80 | 0x55;
        else if (this.#corruptNext === 'seq') out[4] = out[4]! & 0x80 ? 0x05 : (out[4]! + 3) & 0x7f;
        else continue;
        this.#corruptNext = null;
        return out;
      }
      return r;
    }
  }

  async #stall(mode: 'stall' | 'forever', cid: number, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (mode === 'forever') {
      await delay(Math.min(timeoutMs, this.fi.keepaliveIntervalMs), signal);
      if (timeoutMs < this.fi.keepaliveIntervalMs) throw new TimeoutError(`no HID report within ${timeoutMs} ms`);
      return encodeFrames(cid, CtapHidCmd.KEEPALIVE, new Uint8Array([KeepaliveStatus.PROCESSING]), this.inputReportSize)[0]!;
    }
    await delay(timeoutMs, signal);
    throw new TimeoutError(`no HID report within ${timeoutMs} ms (injected fault: keepalives stalled)`);
  }

  #unplug(): void {
    this.#removed = true;
    this.fi.disconnectDevice();
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError('HID read cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new CancelledError('HID read cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
