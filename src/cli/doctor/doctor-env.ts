/**
 * Everything a doctor check may ask of the machine, as one injected interface, so unit tests
 * can feed each check a fake machine (a missing socket, a hidraw node owned by root, vpcd on
 * 0.0.0.0) and the real command passes {@link createNodeDoctorEnv}.
 */
import type { HidDeviceInfo } from '../../drivers/hid-connection.ts';
import type { Deadline } from '../../util/deadline.ts';

export type FileKind = 'file' | 'dir' | 'socket' | 'char' | 'block' | 'fifo' | 'other';

/** `stat` (following symlinks), reduced to what checks need. */
export interface FileInfo {
  kind: FileKind;
  /** Permission bits only (`0o660`). */
  mode: number;
  uid: number;
  gid: number;
}

/** A connect attempt: `ok`, or the errno code (`ECONNREFUSED`, `EACCES`, `ENOENT`, `TIMEOUT`). */
export interface ConnectOutcome {
  ok: boolean;
  code?: string;
}

/** A listening TCP socket from /proc/net/tcp{,6}. */
export interface TcpListener {
  /** `0.0.0.0`, `127.0.0.1`, `::`, `::1`, ... */
  address: string;
  port: number;
}

export interface ProcessInfo {
  pid: number;
  /** `/proc/PID/comm` (e.g. `pcscd`, `node`). */
  name: string;
  /** `/proc/PID/cmdline`, NULs turned into spaces. */
  cmdline: string;
}

export type PcscProbe = { ok: true; readers: string[] } | { ok: false; error: string };
export type HidProbe = { ok: true; devices: HidDeviceInfo[] } | { ok: false; error: string };

export interface RunOutcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Per-call bounds (every probe is I/O). */
export interface IoOptions {
  signal: AbortSignal;
  deadline: Deadline;
}

/** The current user (the one whose access `fs.access` reports). */
export interface CurrentUser {
  uid: number;
  gid: number;
  /** Supplementary group ids, as the process has them now (not as /etc/group says after a re-login). */
  groups: number[];
  name: string;
}

export interface DoctorEnv {
  /** Environment variables (PCSCLITE_CSOCK_NAME, XDG_RUNTIME_DIR, KEYTAP_*). */
  env: Readonly<Record<string, string | undefined>>;
  user: CurrentUser;
  /** `process.versions.node`, e.g. `20.20.2`. */
  nodeVersion: string;
  /** null when the path does not exist (or cannot be looked at). */
  stat(path: string): Promise<FileInfo | null>;
  /** Whether the current user may open `path` for reading (`r`) or reading and writing (`rw`). */
  access(path: string, mode: 'r' | 'rw'): Promise<boolean>;
  /** null when missing or unreadable. */
  readText(path: string): Promise<string | null>;
  /** Raw bytes (sysfs report descriptors); null when missing or unreadable. */
  readBytes(path: string): Promise<Uint8Array | null>;
  /** Entry names, or null when the directory is missing or unreadable. */
  list(dir: string): Promise<string[] | null>;
  /** Runs a program; null when it cannot be started (not installed). */
  run(cmd: string, args: string[], o: IoOptions): Promise<RunOutcome | null>;
  connectUnix(path: string, o: IoOptions): Promise<ConnectOutcome>;
  connectTcp(host: string, port: number, o: IoOptions): Promise<ConnectOutcome>;
  tcpListeners(): Promise<TcpListener[]>;
  processes(): Promise<ProcessInfo[]>;
  /** Establishes a PC/SC context and lists readers (main thread only: pcsclite aborts in workers). */
  pcsc(o: IoOptions): Promise<PcscProbe>;
  /** FIDO HID interfaces (usage page 0xF1D0) via node-hid. */
  fidoHidDevices(o: IoOptions): Promise<HidProbe>;
  /** Loads a (native) module; null when it loads, else the error message. */
  loadModule(name: string): Promise<string | null>;
}
