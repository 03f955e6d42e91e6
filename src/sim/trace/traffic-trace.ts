/**
 * The agent's traffic trace (DESIGN.md §8): off by default; with `keytap serve --trace-dir DIR`
 * every transaction with a key is recorded by `TraceRecorder` (clientPIN secrets and tokens
 * masked, INIT nonces wildcarded) and written, when the transaction closes, to its own file
 * `DIR/<device>-<time>-<n>.trace` (mode 0600 in a 0700 directory). The files are in the fixture
 * format, so a bench recording can become a fixture as it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HidConnection } from '../../drivers/hid-connection.ts';
import { TraceRecorder } from './trace-recorder.ts';
import { systemClock, type Clock } from '../../util/deadline.ts';

/** Writes one masked trace file per wrapped connection. */
export class TrafficTrace {
  #seq = 0;

  /**
   * @param dir created (0700) if missing.
   * @param options.clock for file names and provenance (default `Date.now`).
   * @param options.onError called when a trace file cannot be written (default: ignored); tracing
   *   never fails a transaction.
   */
  constructor(
    readonly dir: string,
    private readonly options: { clock?: Clock; onError?: (e: unknown) => void } = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Records `conn` for device `device` (`key` names the file, `name` goes in the header). */
  wrap(conn: HidConnection, device: { key: string; name: string }): HidConnection {
    const now = new Date((this.options.clock ?? systemClock)()).toISOString();
    const rec = new TraceRecorder({ transport: 'hid', device: device.name, provenance: `keytap serve traffic trace, ${now}` });
    const inner = rec.wrap(conn);
    const file = join(this.dir, `${device.key.replace(/[^A-Za-z0-9._-]+/g, '_')}-${now.replace(/[:.]/g, '-')}-${++this.#seq}.trace`);
    let written = false;
    return {
      inputReportSize: inner.inputReportSize,
      outputReportSize: inner.outputReportSize,
      write: (report, signal) => inner.write(report, signal),
      read: (timeoutMs, signal) => inner.read(timeoutMs, signal),
      close: async () => {
        try {
          await inner.close();
        } finally {
          if (!written) {
            written = true;
            try {
              writeFileSync(file, rec.toText(), { mode: 0o600 });
            } catch (e) {
              this.options.onError?.(e);
            }
          }
        }
      },
    };
  }
}
