/**
 * Users and groups from /etc/passwd and /etc/group, and a mode-bit access test for a user other
 * than the current one: a technician often runs `sudo keytap doctor`, where root can open
 * everything, but the question is whether the `keytap` service account can. ACLs are not
 * evaluated on purpose: the only ACL on a hidraw node is uaccess's, for the active seat user,
 * which never covers a service (fido.md §12).
 */
import type { DoctorEnv, FileInfo } from './doctor-env.ts';

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** Parses /etc/group text; malformed lines are skipped. */
export function parseGroupFile(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 3 || f[0]!.startsWith('#') || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

/** Parses /etc/passwd text; malformed lines are skipped. */
export function parsePasswdFile(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || f[0]!.startsWith('#') || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}

/** The account database as far as the files say (both lists empty when unreadable). */
export interface Accounts {
  groups: GroupEntry[];
  users: PasswdEntry[];
  groupName(gid: number): string;
  userName(uid: number): string;
  group(name: string): GroupEntry | undefined;
  user(name: string): PasswdEntry | undefined;
  /** Group ids of `name`: its primary group plus every group listing it as a member. */
  groupsOf(name: string): number[];
}

export async function loadAccounts(env: DoctorEnv): Promise<Accounts> {
  const groups = parseGroupFile((await env.readText('/etc/group')) ?? '');
  const users = parsePasswdFile((await env.readText('/etc/passwd')) ?? '');
  return {
    groups,
    users,
    groupName: (gid) => groups.find((g) => g.gid === gid)?.name ?? String(gid),
    userName: (uid) => users.find((u) => u.uid === uid)?.name ?? String(uid),
    group: (name) => groups.find((g) => g.name === name),
    user: (name) => users.find((u) => u.name === name),
    groupsOf: (name) => {
      const u = users.find((x) => x.name === name);
      const ids = groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
      return u ? [u.gid, ...ids.filter((g) => g !== u.gid)] : ids;
    },
  };
}

/** Whether a user with `uid` and `gids` may open a file by its mode bits (root may always). */
export function modeAllows(info: FileInfo, uid: number, gids: number[], mode: 'r' | 'rw'): boolean {
  if (uid === 0) return true;
  const want = mode === 'rw' ? 0o6 : 0o4;
  const bits = uid === info.uid ? (info.mode >> 6) & 7 : gids.includes(info.gid) ? (info.mode >> 3) & 7 : info.mode & 7;
  return (bits & want) === want;
}

/** `0660 root:keytap` for messages. */
export function describeMode(info: FileInfo, accounts: Accounts): string {
  return `${info.mode.toString(8).padStart(4, '0')} ${accounts.userName(info.uid)}:${accounts.groupName(info.gid)}`;
}
