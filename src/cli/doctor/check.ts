/**
 * The shape of a `keytap doctor` check (DESIGN.md §8): each check looks at one thing on the
 * machine through an injected {@link DoctorEnv} and says ok / warn / fail, what it found and,
 * when something is wrong, exactly what to do (a command to run, a file to install).
 */
import type { Deadline } from '../../util/deadline.ts';
import type { DoctorEnv } from './doctor-env.ts';

/** `warn` never fails the run; only `fail` makes `keytap doctor` exit 1. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One check's verdict. Never carries a secret (tokens are stat()ed, never read). */
export interface CheckResult {
  /** Stable id (`pcscd`, `fido-hid`, ...), for `--only` and the JSON report. */
  id: string;
  /** Short name shown first on the line. */
  title: string;
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** Further facts, one per line (devices, paths, modes). */
  details: string[];
  /** What to do, one step per line (commands to run, files to install); empty when ok. */
  fix: string[];
}

/** Options from the command line that checks consult. */
export interface DoctorOptions {
  /** Serial ports the technician says are configured (`--serial PATH[:PROTOCOL[:BAUD]]`). */
  serial: string[];
  /** Agent config file (`--config`, else KEYTAP_CONFIG from the environment). */
  configFile?: string;
  /**
   * Where keytap's own files live (the source tree or the installed package), so a fix can
   * name `<root>/systemd/70-keytap.rules` exactly.
   */
  packageRoot: string;
}

/** What every check gets. */
export interface CheckContext {
  env: DoctorEnv;
  options: DoctorOptions;
  signal: AbortSignal;
  /** The whole run's budget; probes cap their own waits inside it. */
  deadline: Deadline;
}

export interface DoctorCheck {
  id: string;
  title: string;
  run(ctx: CheckContext): Promise<CheckResult>;
}

const rank: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };

/** The worse of the statuses (`fail` > `warn` > `ok`). */
export function worst(...statuses: CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((a, b) => (rank[b] > rank[a] ? b : a), 'ok');
}

/** Builds a result; `fix` defaults to none. */
export function result(check: Pick<DoctorCheck, 'id' | 'title'>, status: CheckStatus, summary: string, details: string[] = [], fix: string[] = []): CheckResult {
  return { id: check.id, title: check.title, status, summary, details, fix };
}
