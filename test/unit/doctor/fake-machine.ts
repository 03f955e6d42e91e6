/**
 * A fake machine for doctor checks: files with modes and owners, directory listings, sockets
 * that answer or not, /proc listeners, processes, PC/SC and HID probe results. Access is
 * decided from the mode bits like the kernel would (no ACLs), for the fake current user.
 */
import { modeAllows } from '../../../src/cli/doctor/accounts.ts';
import type { CheckContext, DoctorCheck, DoctorOptions } from '../../../src/cli/doctor/check.ts';
import type { ConnectOutcome, CurrentUser, DoctorEnv, FileKind, HidProbe, PcscProbe, ProcessInfo, RunOutcome, TcpListener } from '../../../src/cli/doctor/doctor-env.ts';
import { Deadline } from '../../../src/util/deadline.ts';

export interface FakeFile {
  kind?: FileKind;
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string;
  bytes?: Uint8Array;
}

export interface FakeMachine {
  env?: Record<string, string>;
  user?: Partial<CurrentUser>;
  nodeVersion?: string;
  files?: Record<string, FakeFile>;
  /** Explicit listings; null = exists but unreadable. Otherwise derived from `files`. */
  dirs?: Record<string, string[] | null>;
  run?: (cmd: string, args: string[]) => RunOutcome | null;
  unix?: Record<string, ConnectOutcome>;
  /** Keyed `host:port`. */
  tcp?: Record<string, ConnectOutcome>;
  listeners?: TcpListener[];
  processes?: ProcessInfo[];
  pcsc?: PcscProbe;
  hid?: HidProbe;
  modules?: Record<string, string | null>;
}

export const ETC_GROUP = ['root:x:0:', 'dialout:x:20:', 'alice:x:1000:', 'bob:x:1001:', 'keytap:x:998:'].join('\n');
export const ETC_PASSWD = ['root:x:0:0:root:/root:/bin/bash', 'alice:x:1000:1000::/home/alice:/bin/bash', 'bob:x:1001:1001::/home/bob:/bin/bash', 'keytap:x:998:998:keytap agent:/nonexistent:/usr/sbin/nologin'].join('\n');

/** Base files every fake machine has (accounts). */
export function accountsFiles(group = ETC_GROUP, passwd = ETC_PASSWD): Record<string, FakeFile> {
  return { '/etc/group': { content: group, mode: 0o644 }, '/etc/passwd': { content: passwd, mode: 0o644 } };
}

export function fakeEnv(m: FakeMachine): DoctorEnv {
  const user: CurrentUser = { uid: 1000, gid: 1000, groups: [1000], name: 'alice', ...m.user };
  const files: Record<string, FakeFile> = { ...accountsFiles(), ...m.files };
  const stat = (p: string): FakeFile | undefined => files[p];
  return {
    env: m.env ?? { XDG_RUNTIME_DIR: `/run/user/${user.uid}` },
    user,
    nodeVersion: m.nodeVersion ?? '20.20.2',
    async stat(p) {
      const f = stat(p);
      if (f) return { kind: f.kind ?? 'file', mode: f.mode ?? 0o644, uid: f.uid ?? 0, gid: f.gid ?? 0 };
      // Any directory that holds a listed file exists.
      if (Object.keys(files).some((k) => k.startsWith(`${p}/`)) || (m.dirs && p in m.dirs)) return { kind: 'dir', mode: 0o755, uid: 0, gid: 0 };
      return null;
    },
    async access(p, mode) {
      const f = stat(p);
      if (!f) return false;
      return modeAllows({ kind: f.kind ?? 'file', mode: f.mode ?? 0o644, uid: f.uid ?? 0, gid: f.gid ?? 0 }, user.uid, [user.gid, ...user.groups], mode);
    },
    async readText(p) {
      return stat(p)?.content ?? null;
    },
    async readBytes(p) {
      return stat(p)?.bytes ?? null;
    },
    async list(dir) {
      if (m.dirs && dir in m.dirs) return m.dirs[dir] ?? null;
      const names = Object.keys(files)
        .filter((k) => k.startsWith(`${dir}/`))
        .map((k) => k.slice(dir.length + 1).split('/')[0]!);
      return names.length ? [...new Set(names)].sort() : null;
    },
    async run(cmd, args) {
      return m.run ? m.run(cmd, args) : null;
    },
    async connectUnix(p) {
      return m.unix?.[p] ?? (stat(p) ? { ok: false, code: 'ECONNREFUSED' } : { ok: false, code: 'ENOENT' });
    },
    async connectTcp(host, port) {
      return m.tcp?.[`${host}:${port}`] ?? { ok: false, code: 'ECONNREFUSED' };
    },
    async tcpListeners() {
      return m.listeners ?? [];
    },
    async processes() {
      return m.processes ?? [];
    },
    async pcsc() {
      return m.pcsc ?? { ok: false, error: 'SCardEstablishContext error: Service not available.(0x8010001d)' };
    },
    async fidoHidDevices() {
      return m.hid ?? { ok: true, devices: [] };
    },
    async loadModule(name) {
      return m.modules?.[name] ?? null;
    },
  };
}

export const OPTIONS: DoctorOptions = { serial: [], packageRoot: '/opt/keytap' };

/** Runs one check against a fake machine. */
export function runCheck(check: DoctorCheck, m: FakeMachine, options: Partial<DoctorOptions> = {}): ReturnType<DoctorCheck['run']> {
  const ctx: CheckContext = { env: fakeEnv(m), options: { ...OPTIONS, ...options }, signal: new AbortController().signal, deadline: Deadline.in(5000) };
  return check.run(ctx);
}

/** All fix lines as one string, for "names the right file/command" assertions. */
export const fixText = (r: { fix: string[] }): string => r.fix.join('\n');
