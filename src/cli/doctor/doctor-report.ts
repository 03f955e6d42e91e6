/**
 * Runs the doctor's checks and renders the report: a line per check for a technician, or JSON
 * for scripts. Checks are independent, so they run concurrently; one that throws becomes a
 * `fail` line naming the error instead of ending the run.
 */
import { Deadline } from '../../util/deadline.ts';
import { agentCheck } from './agent-check.ts';
import type { CheckResult, CheckStatus, DoctorCheck, DoctorOptions } from './check.ts';
import type { DoctorEnv } from './doctor-env.ts';
import { fidoHidCheck } from './fido-hid-check.ts';
import { nodeCheck } from './node-check.ts';
import { pcscdCheck } from './pcscd-check.ts';
import { readersCheck } from './readers-check.ts';
import { serialCheck } from './serial-check.ts';
import { vpcdCheck } from './vpcd-check.ts';

/** Every check, in report order. */
export const ALL_CHECKS: readonly DoctorCheck[] = [nodeCheck, pcscdCheck, readersCheck, fidoHidCheck, serialCheck, agentCheck, vpcdCheck];

/** Version of the JSON report's shape; bump when a member changes meaning. */
export const REPORT_SCHEMA = 'keytap.doctor/1';

export interface DoctorReport {
  schema: typeof REPORT_SCHEMA;
  /** True when no check failed (warnings allowed). */
  ok: boolean;
  /** What the command exits with: 0 when nothing failed, else 1. */
  exitCode: 0 | 1;
  counts: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export interface RunDoctorOptions {
  env: DoctorEnv;
  options: DoctorOptions;
  checks?: readonly DoctorCheck[];
  signal?: AbortSignal;
  /** Budget for the whole run (default 10000 ms). */
  timeoutMs?: number;
}

export async function runDoctor(o: RunDoctorOptions): Promise<DoctorReport> {
  const deadline = Deadline.in(o.timeoutMs ?? 10_000);
  const signal = o.signal ?? new AbortController().signal;
  const checks = o.checks ?? ALL_CHECKS;
  const results = await Promise.all(
    checks.map(async (c): Promise<CheckResult> => {
      try {
        return await c.run({ env: o.env, options: o.options, signal, deadline });
      } catch (e) {
        return { id: c.id, title: c.title, status: 'fail', summary: `the check itself failed: ${(e as Error).message}`, details: [], fix: ['report this as a keytap bug, with the output of keytap doctor --json'] };
      }
    }),
  );
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const r of results) counts[r.status]++;
  return { schema: REPORT_SCHEMA, ok: counts.fail === 0, exitCode: counts.fail === 0 ? 0 : 1, counts, checks: results };
}

const MARK: Record<CheckStatus, string> = { ok: '[ok]  ', warn: '[warn]', fail: '[fail]' };
const INDENT = '       ';

/** The technician's view: one line per check, then indented details and the fix. */
export function formatReport(report: DoctorReport, o: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} ${c.title}: ${c.summary}`);
    // Details of a passing check are noise at a glance; --verbose shows them.
    if (c.status !== 'ok' || o.verbose) for (const d of c.details) lines.push(`${INDENT}- ${d}`);
    c.fix.forEach((f, i) => lines.push(`${INDENT}${i === 0 ? 'fix: ' : '     '}${f}`));
  }
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  lines.push('');
  lines.push(`${plural(report.counts.ok, 'check')} ok, ${plural(report.counts.warn, 'warning')}, ${plural(report.counts.fail, 'failure')}`);
  return `${lines.join('\n')}\n`;
}
