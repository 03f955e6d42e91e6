/**
 * pcscd (readers.md §5, environment.md): the client socket exists, a PC/SC context can be
 * established, and — where pcscd is built with polkit (Fedora, Ubuntu 24.04, Arch; not
 * Debian 12) — a system service like keytap has the polkit rule it needs, since polkit's
 * default (`allow_active=yes` only) denies every non-seat process.
 */
import { result, type CheckContext, type CheckResult, type DoctorCheck } from './check.ts';
import type { DoctorEnv, IoOptions } from './doctor-env.ts';
import { PCSCD_BINARIES, PCSCD_SOCKET, POLKIT_RULE_ETC, POLKIT_RULE_TEXT, POLKIT_RULES_DIRS, SERVICE_USER, SYSTEM_UNIT_PATHS } from './install-paths.ts';

/** The socket pcsclite connects to: `PCSCLITE_CSOCK_NAME` overrides the default. */
export function pcscdSocketPath(env: DoctorEnv): string {
  return env.env.PCSCLITE_CSOCK_NAME || PCSCD_SOCKET;
}

async function firstExisting(env: DoctorEnv, paths: string[]): Promise<string | null> {
  for (const p of paths) if (await env.stat(p)) return p;
  return null;
}

/** Whether systemd is PID 1 (sd_booted(3): /run/systemd/system is a directory). */
export async function systemdRunning(env: DoctorEnv): Promise<boolean> {
  return (await env.stat('/run/systemd/system'))?.kind === 'dir';
}

/** `linked` from `ldd <pcscd>`; `unknown` when ldd or pcscd is missing. */
export async function pcscdPolkit(env: DoctorEnv, binary: string | null, io: IoOptions): Promise<'linked' | 'not-linked' | 'unknown'> {
  if (!binary) return 'unknown';
  const r = await env.run('ldd', [binary], io);
  if (!r || r.status !== 0) return 'unknown';
  return /polkit/i.test(r.stdout) ? 'linked' : 'not-linked';
}

/**
 * Whether keytap runs (or is being checked) as a system account: the system unit is installed,
 * or the doctor itself runs as `keytap` or another system uid (1–999).
 */
export async function runsAsSystemUser(env: DoctorEnv): Promise<{ yes: boolean; why: string }> {
  const unit = await firstExisting(env, SYSTEM_UNIT_PATHS);
  if (unit) return { yes: true, why: `the system service is installed (${unit})` };
  if (env.user.name === SERVICE_USER) return { yes: true, why: `running as user ${SERVICE_USER}` };
  if (env.user.uid > 0 && env.user.uid < 1000) return { yes: true, why: `running as system uid ${env.user.uid}` };
  return { yes: false, why: 'no system service installed' };
}

/** `installed`, `missing`, or `unknown` (rules directory unreadable: not root). */
export async function polkitRuleState(env: DoctorEnv): Promise<{ state: 'installed' | 'missing' | 'unknown'; path?: string }> {
  let unreadable = false;
  for (const dir of POLKIT_RULES_DIRS) {
    const names = await env.list(dir);
    if (names === null) {
      if (await env.stat(dir)) unreadable = true;
      continue;
    }
    const hit = names.find((n) => /keytap/i.test(n) && n.endsWith('.rules'));
    if (hit) return { state: 'installed', path: `${dir}/${hit}` };
  }
  return { state: unreadable ? 'unknown' : 'missing' };
}

export function polkitFix(): string[] {
  return [`create ${POLKIT_RULE_ETC} (mode 0644) containing:`, ...POLKIT_RULE_TEXT.map((l) => `    ${l}`), 'then restart pcscd: systemctl restart pcscd.socket pcscd.service'];
}

export const pcscdCheck: DoctorCheck = {
  id: 'pcscd',
  title: 'pcscd',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const io = { signal: ctx.signal, deadline: ctx.deadline };
    const sock = pcscdSocketPath(env);
    const binary = await firstExisting(env, PCSCD_BINARIES);
    const systemd = await systemdRunning(env);
    const startFix = systemd ? 'systemctl enable --now pcscd.socket' : 'start it by hand (no systemd here): pcscd -f -e &';
    const details: string[] = [];
    if (env.env.PCSCLITE_CSOCK_NAME) details.push(`PCSCLITE_CSOCK_NAME=${env.env.PCSCLITE_CSOCK_NAME}`);

    const procs = (await env.processes()).filter((p) => p.name === 'pcscd');
    // pcscd runs but keytap looks elsewhere: the override is the problem, not pcscd.
    const overrideFix = env.env.PCSCLITE_CSOCK_NAME && procs.length ? [`PCSCLITE_CSOCK_NAME=${env.env.PCSCLITE_CSOCK_NAME} but pcscd (pid ${procs.map((p) => p.pid).join(', ')}) may listen on ${PCSCD_SOCKET}: unset PCSCLITE_CSOCK_NAME or point it at pcscd's socket`] : [];
    const st = await env.stat(sock);
    if (!st) {
      if (!binary) return result(this, 'fail', `pcscd is not installed (no ${sock}, no pcscd binary)`, details, ['apt-get install pcscd   (Fedora: dnf install pcsc-lite)', startFix]);
      return result(this, 'fail', `pcscd is not running (${sock} missing)`, [...details, `binary: ${binary}`], overrideFix.length ? overrideFix : [startFix]);
    }
    if (st.kind !== 'socket') return result(this, 'fail', `${sock} exists but is not a socket (${st.kind})`, details, [`remove ${sock}, then ${startFix}`]);

    if (procs.length) details.push(`pcscd pid ${procs.map((p) => p.pid).join(', ')}`);
    const polkit = await pcscdPolkit(env, binary, io);
    const probe = await env.pcsc(io);
    if (!probe.ok) {
      const fix: string[] = [...overrideFix];
      if (overrideFix.length === 0 && procs.length === 0) fix.push(`no pcscd process: the socket is stale; ${systemd ? 'systemctl restart pcscd.socket pcscd.service' : `rm ${sock} && pcscd -f -e &`}`);
      else if (overrideFix.length === 0) fix.push(systemd ? 'systemctl restart pcscd.socket pcscd.service; see journalctl -u pcscd' : `restart pcscd: kill ${procs.map((p) => p.pid).join(' ')}; pcscd -f -e &   (run it with -f -d to see why it refuses)`);
      if (polkit === 'linked' || /access denied|not authori[sz]ed|0x8010006a/i.test(probe.error)) fix.push(...polkitFix());
      return result(this, 'fail', `pcscd does not answer on ${sock}: ${probe.error}`, details, fix);
    }
    details.push(`PC/SC context established; ${probe.readers.length} reader(s)`);

    if (polkit === 'unknown') {
      details.push(binary ? 'could not run ldd on pcscd: polkit linkage unknown' : 'pcscd binary not found: polkit linkage unknown');
      return result(this, 'ok', `pcscd running (${sock})`, details);
    }
    if (polkit === 'not-linked') {
      details.push('pcscd is not linked against polkit: no rule needed');
      return result(this, 'ok', `pcscd running (${sock})`, details);
    }
    const sys = await runsAsSystemUser(env);
    if (!sys.yes) {
      details.push(`pcscd uses polkit; the logged-in seat user is allowed by default (${sys.why}); a system service would need ${POLKIT_RULE_ETC}`);
      return result(this, 'ok', `pcscd running (${sock})`, details);
    }
    const rule = await polkitRuleState(env);
    if (rule.state === 'installed') {
      details.push(`pcscd uses polkit; keytap's rule is installed (${rule.path})`);
      return result(this, 'ok', `pcscd running (${sock})`, details);
    }
    const why = rule.state === 'unknown' ? `cannot read ${POLKIT_RULES_DIRS[0]} to confirm a keytap rule (run doctor as root)` : 'no keytap polkit rule installed';
    return result(this, 'warn', `pcscd uses polkit and keytap runs as a system user (${sys.why}): ${why}`, [...details, 'polkit denies pcscd to inactive/system sessions by default (readers.md §5)'], polkitFix());
  },
};
