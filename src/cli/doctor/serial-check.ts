/**
 * Serial badge readers (readers.md §6, §7): the ports named with `--serial` exist, the USB
 * serial ports present (/dev/ttyUSB*, /dev/ttyACM*) can be opened, and the user is in the
 * port's group (`dialout` on Debian/Ubuntu/Fedora). Group changes need a new login, so a
 * membership that /etc/group has but the session lacks is called out separately.
 */
import { parseSerialSpec } from '../../drivers/serial/serial-spec.ts';
import { describeMode, loadAccounts, modeAllows } from './accounts.ts';
import { result, worst, type CheckContext, type CheckResult, type CheckStatus, type DoctorCheck } from './check.ts';
import { SERVICE_USER } from './install-paths.ts';

const USB_SERIAL = /^tty(USB|ACM)\d+$/;
const SERIAL_GROUP = 'dialout';

/** The device path of a `--serial` value (`PATH[:PROTOCOL[:BAUD]]`, or a bare path). */
export function serialPathOf(spec: string): string {
  try {
    return parseSerialSpec(spec).path;
  } catch {
    return spec;
  }
}

export const serialCheck: DoctorCheck = {
  id: 'serial',
  title: 'serial ports',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const accounts = await loadAccounts(env);
    const configured = ctx.options.serial.map(serialPathOf);
    const visible = ((await env.list('/dev')) ?? []).filter((n) => USB_SERIAL.test(n)).map((n) => `/dev/${n}`);
    const byId = (await env.list('/dev/serial/by-id')) ?? [];
    const dialout = accounts.group(SERIAL_GROUP);
    const inSession = dialout !== undefined && (env.user.gid === dialout.gid || env.user.groups.includes(dialout.gid));
    const inFile = dialout?.members.includes(env.user.name) ?? false;
    const membership = env.user.uid === 0 ? 'running as root (group membership not needed)' : dialout === undefined ? `no ${SERIAL_GROUP} group on this machine` : inSession ? `${env.user.name} is in group ${SERIAL_GROUP}` : inFile ? `${env.user.name} is in group ${SERIAL_GROUP} in /etc/group but not in this session (log in again)` : `${env.user.name} is not in group ${SERIAL_GROUP}`;
    const service = env.user.uid === 0 ? accounts.user(SERVICE_USER) : undefined;

    const ports = [...new Set([...configured, ...visible])];
    if (ports.length === 0) return result(this, 'ok', 'no serial ports configured or visible (ttyUSB*, ttyACM*)', [membership]);

    let status: CheckStatus = 'ok';
    const details: string[] = [];
    const fix = new Set<string>();
    const problems: string[] = [];
    for (const p of ports) {
      const isConfigured = configured.includes(p);
      const tag = isConfigured ? 'configured' : 'visible';
      const st = await env.stat(p);
      if (!st) {
        status = worst(status, 'fail');
        problems.push(`configured serial port ${p} does not exist`);
        details.push(`${p} (${tag}): missing${byId.length ? `; /dev/serial/by-id has ${byId.join(', ')}` : ''}`);
        fix.add(`plug the reader in, or use a stable name from /dev/serial/by-id/ in --serial`);
        continue;
      }
      const mine = await env.access(p, 'rw');
      const verdicts = [`${env.user.name}: ${mine ? 'read/write ok' : 'NO ACCESS'}`];
      const groupName = accounts.groupName(st.gid);
      if (!mine) {
        status = worst(status, isConfigured ? 'fail' : 'warn');
        problems.push(`${p} not accessible by user ${env.user.name}`);
        fix.add(inFile && groupName === SERIAL_GROUP ? `log out and in again (${env.user.name} was added to ${SERIAL_GROUP} after this session started)` : `usermod -aG ${groupName} ${env.user.name}, then log out and in again`);
      }
      if (service && isConfigured) {
        const ok = modeAllows(st, service.uid, accounts.groupsOf(SERVICE_USER), 'rw');
        verdicts.push(`${SERVICE_USER}: ${ok ? 'read/write ok' : 'NO ACCESS'}`);
        if (!ok) {
          status = worst(status, 'fail');
          problems.push(`${p} not accessible by user ${SERVICE_USER}`);
          fix.add(`usermod -aG ${groupName} ${SERVICE_USER} (or SupplementaryGroups=${groupName} in a keytap.service drop-in), then systemctl restart keytap`);
        }
      }
      details.push(`${p} (${tag}) ${describeMode(st, accounts)}; ${verdicts.join(', ')}`);
    }
    details.push(membership);
    if (byId.length) details.push(`/dev/serial/by-id: ${byId.join(', ')}`);
    const summary = problems.length ? problems.join('; ') : `${ports.length} port(s): ${ports.join(', ')}`;
    return result(this, status, summary, details, [...fix]);
  },
};
