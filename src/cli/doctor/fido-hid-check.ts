/**
 * FIDO HID keys (usage page 0xF1D0) and whether keytap can open their hidraw nodes
 * (fido.md §12): systemd's uaccess tag gives an ACL to the *active seat's* user only, so a
 * system service finds no keys unless a udev rule gives its group access
 * (`GROUP="keytap", MODE="0660"`, systemd/70-keytap.rules). When the doctor runs as root it
 * also judges the `keytap` account by the node's mode bits, since root can open anything.
 */
import { describeMode, loadAccounts, modeAllows, type Accounts } from './accounts.ts';
import { result, type CheckContext, type CheckResult, type DoctorCheck } from './check.ts';
import type { DoctorEnv, FileInfo } from './doctor-env.ts';
import { isFidoDescriptor, parseReportDescriptor } from '../../drivers/hid/report-descriptor.ts';
import { FIDO_ID_RULE_PATHS, SERVICE_USER, SYSUSERS_SOURCE, UDEV_RULE_ETC, UDEV_RULE_PATHS, UDEV_RULE_SOURCE, sourcePath } from './install-paths.ts';

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

async function firstExisting(env: DoctorEnv, paths: string[]): Promise<string | null> {
  for (const p of paths) if (await env.stat(p)) return p;
  return null;
}

/** The fix for "hidraw node not accessible", depending on what is already in place. */
function accessFix(o: {
  root: string;
  rule: string | null;
  fidoIdRule: string | null;
  groupExists: boolean;
  node: FileInfo | null;
  keytapGid: number | undefined;
  who: string;
  whoInGroupFile: boolean;
}): string[] {
  const fix: string[] = [];
  const reload = 'udevadm control --reload && udevadm trigger --subsystem-match=hidraw --action=change';
  if (!o.groupExists) fix.push(`create the keytap user and group: systemd-sysusers ${sourcePath(o.root, SYSUSERS_SOURCE)}`);
  if (!o.rule) {
    fix.push(`install ${sourcePath(o.root, UDEV_RULE_SOURCE)} to ${UDEV_RULE_ETC}: install -m 0644 ${sourcePath(o.root, UDEV_RULE_SOURCE)} ${UDEV_RULE_ETC}`);
    fix.push(`then run: ${reload}`);
  } else if (o.node && o.keytapGid !== undefined && o.node.gid !== o.keytapGid) {
    // The rule is there but did not apply to this node.
    if (!o.fidoIdRule) fix.push("systemd's 60-fido-id.rules (sets ID_SECURITY_TOKEN=1, systemd >= 244) is missing, so keytap's rule cannot match: install the distribution's udev/systemd package");
    fix.push(`re-apply udev rules (${o.rule} is installed but this node is not in group keytap): ${reload}; or unplug and replug the key`);
  }
  if (o.who !== SERVICE_USER && o.who !== 'root') {
    fix.push(
      o.whoInGroupFile
        ? `user ${o.who} is in group keytap in /etc/group but not in this session: log out and in again`
        : `${fix.length ? 'and, for this user: ' : ''}usermod -aG keytap ${o.who}, then log out and in again`,
    );
  }
  if (o.who === SERVICE_USER) fix.push('then restart the agent: systemctl restart keytap');
  return fix;
}

/**
 * FIDO hidraw nodes found from sysfs alone (the report descriptor of each
 * /sys/class/hidraw/hidrawN, parsed by the HID driver's parser), for when node-hid cannot load.
 */
export async function sysfsFidoNodes(env: DoctorEnv): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await env.list('/sys/class/hidraw')) ?? []) {
    if (!/^hidraw\d+$/.test(name)) continue;
    const desc = await env.readBytes(`/sys/class/hidraw/${name}/device/report_descriptor`);
    if (desc && isFidoDescriptor(parseReportDescriptor(desc))) out.push(`/dev/${name}`);
  }
  return out;
}

interface Judged {
  details: string[];
  failures: string[];
  fix: string[];
}

/** Access verdicts for each node: the current user by access(2), the keytap account (as root) by mode bits. */
async function judgeNodes(ctx: CheckContext, accounts: Accounts, rule: string | null, nodes: Array<{ path: string; label: string }>): Promise<Judged> {
  const { env } = ctx;
  const fidoIdRule = await firstExisting(env, FIDO_ID_RULE_PATHS);
  const keytapGroup = accounts.group(SERVICE_USER);
  const serviceAccount = env.user.uid === 0 ? accounts.user(SERVICE_USER) : undefined;
  const out: Judged = { details: [], failures: [], fix: [] };
  for (const { path, label } of nodes) {
    if (!path.startsWith('/dev/')) {
      out.details.push(`${label} (libusb path: permissions not checked)`);
      continue;
    }
    const node = await env.stat(path);
    const mine = await env.access(path, 'rw');
    const verdicts = [`${env.user.name}: ${mine ? 'read/write ok' : 'NO ACCESS'}`];
    const who: string[] = [];
    if (!mine) who.push(env.user.name);
    if (serviceAccount && node) {
      const svc = modeAllows(node, serviceAccount.uid, accounts.groupsOf(SERVICE_USER), 'rw');
      verdicts.push(`${SERVICE_USER}: ${svc ? 'read/write ok' : 'NO ACCESS'}`);
      if (!svc) who.push(SERVICE_USER);
    }
    out.details.push(`${label} ${node ? describeMode(node, accounts) : '(cannot stat)'}; ${verdicts.join(', ')}`);
    for (const w of who) {
      out.failures.push(`FIDO key ${path} not accessible by user ${w}`);
      // One fix list: the first problem's; the same steps fix the others.
      if (out.fix.length === 0) {
        out.fix = accessFix({
          root: ctx.options.packageRoot,
          rule,
          fidoIdRule,
          groupExists: keytapGroup !== undefined,
          node,
          keytapGid: keytapGroup?.gid,
          who: w,
          whoInGroupFile: keytapGroup?.members.includes(w) ?? false,
        });
      }
    }
  }
  return out;
}

export const fidoHidCheck: DoctorCheck = {
  id: 'fido-hid',
  title: 'FIDO keys (USB HID)',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const probe = await env.fidoHidDevices({ signal: ctx.signal, deadline: ctx.deadline });
    const accounts: Accounts = await loadAccounts(env);
    const rule = await firstExisting(env, UDEV_RULE_PATHS);
    const ruleLine = rule ? `udev rule installed: ${rule}` : `udev rule not installed (${UDEV_RULE_SOURCE} -> ${UDEV_RULE_ETC}); only the active seat's user gets access (uaccess)`;

    if (!probe.ok) {
      const fix = /libusb/i.test(probe.error)
        ? ['install libusb: apt-get install libusb-1.0-0   (Fedora: dnf install libusb1)']
        : ['reinstall the native module: npm rebuild node-hid', 'see the node check for whether node-hid loads'];
      // Still say which keys are there and whether they would open, from sysfs alone.
      const nodes = await sysfsFidoNodes(env);
      const judged = await judgeNodes(ctx, accounts, rule, nodes.map((path) => ({ path, label: `FIDO key at ${path} (from sysfs)` })));
      const details = nodes.length ? [...judged.details, ruleLine] : ['no FIDO hidraw nodes in /sys/class/hidraw either'];
      return result(this, 'fail', `cannot enumerate HID devices: ${probe.error}`, details, [...fix, ...judged.fix]);
    }
    if (probe.devices.length === 0) return result(this, 'ok', 'no FIDO HID keys plugged in', [ruleLine]);

    const judged = await judgeNodes(
      ctx,
      accounts,
      rule,
      probe.devices.map((d) => ({ path: d.path, label: `${[d.manufacturer, d.product].filter(Boolean).join(' ') || 'FIDO key'} ${hex4(d.vendorId)}:${hex4(d.productId)} at ${d.path}` })),
    );
    const details = [...judged.details, ruleLine];
    if (judged.failures.length === 0) return result(this, 'ok', `${probe.devices.length} FIDO key(s), all accessible`, details);
    details.push('uaccess grants only the active seat user; a service needs GROUP="keytap", MODE="0660" (fido.md §12)');
    return result(this, 'fail', judged.failures.join('; '), details, judged.fix);
  },
};
