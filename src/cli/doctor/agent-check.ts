/**
 * The keytap agent: does one listen on its unix socket (the path `keytap serve` would use
 * here, from src/agent/config.ts, and the system service's /run/keytap/keytap.sock) and on
 * loopback TCP, and is its token file private (DESIGN.md §6: 0600 in a 0700 directory, owned
 * by the agent's user). The token file is only stat()ed: the doctor never reads a token.
 *
 * The system unit makes /run/keytap 0750 on purpose (the keytap group connects to the socket
 * there), so group bits on *that* directory are accepted; anywhere else the directory must
 * be 0700.
 */
import { dirname } from 'node:path';
import { resolveConfig, type AgentConfig } from '../../agent/config.ts';
import { describeMode, loadAccounts, type Accounts } from './accounts.ts';
import { result, worst, type CheckContext, type CheckResult, type CheckStatus, type DoctorCheck } from './check.ts';
import type { ConnectOutcome, DoctorEnv } from './doctor-env.ts';
import { SERVICE_USER, SYSTEM_SOCKET, SYSTEM_TOKEN_FILE, SYSTEM_UNIT_PATHS } from './install-paths.ts';
import { systemdRunning } from './pcscd-check.ts';

interface TokenVerdict {
  status: CheckStatus;
  details: string[];
  fix: string[];
}

/** Judges a token file's permissions and owner (never its content). */
export async function checkTokenFile(env: DoctorEnv, accounts: Accounts, path: string, agentRunning: boolean): Promise<TokenVerdict> {
  const st = await env.stat(path);
  if (!st) {
    return agentRunning
      ? { status: 'warn', details: [`token file ${path} missing although the agent runs: TCP clients cannot authenticate`], fix: ['restart the agent; it creates the token file (0600) at start'] }
      : { status: 'ok', details: [`token file ${path} not created yet (the agent creates it at first start)`], fix: [] };
  }
  const out: TokenVerdict = { status: 'ok', details: [], fix: [] };
  const add = (s: CheckStatus, detail: string, fix?: string): void => {
    out.status = worst(out.status, s);
    out.details.push(detail);
    if (fix) out.fix.push(fix);
  };
  if (st.kind !== 'file') {
    add('fail', `token file ${path} is not a regular file (${st.kind})`, `remove ${path} and restart the agent`);
    return out;
  }
  const system = path === SYSTEM_TOKEN_FILE;
  if ((st.mode & 0o007) !== 0) add('fail', `token file ${path} is readable or writable by others (${describeMode(st, accounts)})`, `chmod 600 ${path}, then rotate the tokens (delete the file and restart the agent)`);
  else if ((st.mode & 0o070) !== 0) add('warn', `token file ${path} is group-accessible (${describeMode(st, accounts)}); expected 0600`, `chmod 600 ${path}`);
  const expectedOwner = system ? [env.user.uid, accounts.user(SERVICE_USER)?.uid] : [env.user.uid];
  if (!expectedOwner.includes(st.uid)) {
    const owner = system ? `${env.user.name} or ${SERVICE_USER}` : env.user.name;
    add('warn', `token file ${path} is owned by ${accounts.userName(st.uid)}, not ${owner}`, `chown ${system ? SERVICE_USER : env.user.name} ${path}`);
  }
  const dir = dirname(path);
  const dst = await env.stat(dir);
  if (dst) {
    if ((dst.mode & 0o007) !== 0) add('warn', `directory ${dir} is accessible by others (${describeMode(dst, accounts)}); expected 0700`, `chmod ${system ? '750' : '700'} ${dir}`);
    else if ((dst.mode & 0o070) !== 0 && !system) add('warn', `directory ${dir} is group-accessible (${describeMode(dst, accounts)}); expected 0700`, `chmod 700 ${dir}`);
  }
  if (out.status === 'ok') out.details.push(`token file ${path}: ${describeMode(st, accounts)} in ${dir}${dst ? ` (${describeMode(dst, accounts)})` : ''}`);
  return out;
}

function describeOutcome(o: ConnectOutcome): string {
  return o.ok ? 'accepting connections' : o.code === 'ECONNREFUSED' ? 'stale (connection refused)' : o.code === 'EACCES' ? 'permission denied' : `no answer (${o.code ?? 'error'})`;
}

export const agentCheck: DoctorCheck = {
  id: 'agent',
  title: 'keytap agent',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const io = { signal: ctx.signal, deadline: ctx.deadline };
    const configFile = ctx.options.configFile ?? env.env.KEYTAP_CONFIG;
    let cfg: AgentConfig;
    try {
      cfg = resolveConfig({ env: env.env as NodeJS.ProcessEnv, ...(configFile ? { file: configFile } : {}) });
    } catch (e) {
      return result(this, 'fail', `agent configuration is invalid: ${(e as Error).message}`, [], [`fix ${configFile ?? 'the KEYTAP_* environment variables'}; \`keytap serve\` refuses to start with it`]);
    }
    const accounts = await loadAccounts(env);
    const details: string[] = [];
    const fix: string[] = [];
    let status: CheckStatus = 'ok';

    const sockets = [...new Set([cfg.socket, SYSTEM_SOCKET].filter((s): s is string => !!s))];
    let answered: string | null = null;
    for (const s of sockets) {
      const st = await env.stat(s);
      if (!st) continue;
      const o = await env.connectUnix(s, io);
      details.push(`unix socket ${s} (${describeMode(st, accounts)}): ${describeOutcome(o)}`);
      if (o.ok) answered ??= s;
      else if (o.code === 'ECONNREFUSED') {
        status = worst(status, 'warn');
        fix.push(`remove the stale socket (rm ${s}) or restart the agent that owns it`);
      } else if (o.code === 'EACCES') {
        status = worst(status, 'warn');
        fix.push(`add ${env.user.name} to the socket's group: usermod -aG ${accounts.groupName(st.gid)} ${env.user.name} (then log in again)`);
      }
    }
    const tcp = cfg.listen.find((a) => a.host === '127.0.0.1') ?? cfg.listen[0];
    let tcpOk = false;
    if (tcp) {
      const o = await env.connectTcp(tcp.host, tcp.port, io);
      tcpOk = o.ok;
      details.push(`tcp ${tcp.host}:${tcp.port}: ${o.ok ? 'listening' : `nothing listening (${o.code ?? 'error'})`}`);
    }
    const running = answered !== null || tcpOk;

    const tokenFiles = answered === SYSTEM_SOCKET && cfg.socket !== SYSTEM_SOCKET ? [SYSTEM_TOKEN_FILE] : [cfg.tokenFile];
    for (const t of tokenFiles) {
      const v = await checkTokenFile(env, accounts, t, running);
      status = worst(status, v.status);
      details.push(...v.details);
      fix.push(...v.fix);
    }

    if (!running) {
      const serving = (await env.processes()).filter((p) => /keytap/.test(p.cmdline) && /\bserve\b/.test(p.cmdline));
      for (const p of serving) {
        const sock = /--socket[= ](\S+)/.exec(p.cmdline)?.[1];
        const listen = /--listen[= ](\S+)/.exec(p.cmdline)?.[1];
        const own = [sock && `socket ${sock}`, listen && `listen ${listen}`].filter(Boolean).join(', ');
        details.push(`keytap serve runs as pid ${p.pid} but not on these addresses${own ? ` (it uses ${own})` : ''}: point KEYTAP_SOCKET / KEYTAP_LISTEN (or --config) at the agent you mean`);
      }
      const unit = (await Promise.all(SYSTEM_UNIT_PATHS.map((p) => env.stat(p)))).some(Boolean);
      const start = !(await systemdRunning(env))
        ? 'start it: keytap serve   (no systemd on this machine)'
        : unit
          ? 'start it: systemctl enable --now keytap'
          : 'start it: systemctl --user enable --now keytap (user unit), or install the system unit (systemd/keytap.service)';
      return result(this, worst(status, 'warn'), `no keytap agent listening (${[...sockets, tcp ? `${tcp.host}:${tcp.port}` : ''].filter(Boolean).join(', ')})`, details, [start, ...fix]);
    }
    const where = [answered, tcpOk && tcp ? `${tcp.host}:${tcp.port}` : null].filter(Boolean).join(' and ');
    return result(this, status, `agent listening on ${where}`, details, fix);
  },
};
