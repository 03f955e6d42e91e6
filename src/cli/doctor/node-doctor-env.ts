/**
 * The real machine behind {@link DoctorEnv}: node:fs, node:net, /proc, child processes,
 * pcsclite and node-hid. Native modules are loaded lazily, inside the probes, so a machine
 * without libusb or libpcsclite still gets a report that says so instead of a stack trace.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import type { ConnectOutcome, DoctorEnv, FileInfo, HidProbe, IoOptions, PcscProbe, ProcessInfo, RunOutcome, TcpListener } from './doctor-env.ts';
import { parseProcNetTcp } from './proc-net.ts';

const require_ = createRequire(import.meta.url);

/** Most a single connect may take before it counts as "nothing answers" (default 1000 ms). */
const CONNECT_CAP_MS = 1000;
/**
 * How long to collect pcsclite `reader` events after the context is up. pcsclite reports
 * readers present at start within ~20 ms on this machine (environment.md); pcscd itself polls
 * every 400 ms, so 400 ms is enough without making the command slow.
 */
const READER_SETTLE_MS = 400;
/** Bound on /proc entries read for the process list (a busy host has thousands). */
const MAX_PROCESSES = 4096;

function kindOf(s: Awaited<ReturnType<typeof stat>>): FileInfo['kind'] {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'dir';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  if (s.isFIFO()) return 'fifo';
  return 'other';
}

function errText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${m}${cause}`.split('\n')[0]!;
}

function connect(opts: { path: string } | { host: string; port: number }, o: IoOptions): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    if (o.signal.aborted) return resolve({ ok: false, code: 'CANCELLED' });
    const sock = createConnection(opts);
    const done = (r: ConnectOutcome): void => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = (): void => done({ ok: false, code: 'CANCELLED' });
    const timer = setTimeout(() => done({ ok: false, code: 'TIMEOUT' }), Math.min(CONNECT_CAP_MS, o.deadline.remaining()));
    o.signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, code: e.code ?? 'ERROR' }));
  });
}

/** Races `p` against the deadline and the signal. */
function bounded<T>(p: Promise<T>, o: IoOptions, onTimeout: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(() => resolve(onTimeout())), o.deadline.remaining());
    const onAbort = (): void => finish(() => resolve(onTimeout()));
    const finish = (f: () => void): void => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      f();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}

interface PcscLike {
  on(ev: string, l: (...a: any[]) => void): unknown;
  close(): void;
}

function probePcsc(o: IoOptions): Promise<PcscProbe> {
  let factory: () => PcscLike;
  try {
    factory = require_('pcsclite') as () => PcscLike;
  } catch (e) {
    return Promise.resolve({ ok: false, error: `cannot load pcsclite: ${errText(e)}` });
  }
  let ctx: PcscLike;
  try {
    // Throws synchronously while pcscd is down (environment.md: "Service not available").
    ctx = factory();
  } catch (e) {
    return Promise.resolve({ ok: false, error: errText(e) });
  }
  return new Promise((resolve) => {
    const readers: PcscLike[] = [];
    const names: string[] = [];
    let failure: string | null = null;
    const finish = (): void => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', finish);
      for (const r of readers) {
        try {
          r.close();
        } catch {
          /* already gone */
        }
      }
      // close() makes the context emit "Command cancelled (0x80100002)"; the listener below eats it.
      ctx.close();
      resolve(failure !== null ? { ok: false, error: failure } : { ok: true, readers: [...new Set(names)].sort() });
    };
    ctx.on('error', (e: unknown) => {
      failure ??= errText(e);
    });
    ctx.on('reader', (r: PcscLike & { name: string }) => {
      r.on('error', () => undefined);
      readers.push(r);
      names.push(r.name);
    });
    const timer = setTimeout(finish, Math.min(READER_SETTLE_MS, o.deadline.remaining()));
    o.signal.addEventListener('abort', finish, { once: true });
  });
}

async function readProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  let entries: string[];
  try {
    entries = (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).slice(0, MAX_PROCESSES);
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const name = (await readFile(`/proc/${e}/comm`, 'utf8')).trim();
      const cmdline = (await readFile(`/proc/${e}/cmdline`, 'utf8')).replace(/\0+$/, '').replace(/\0/g, ' ');
      out.push({ pid: Number(e), name, cmdline });
    } catch {
      // The process exited while we looked, or hidepid hides it.
    }
  }
  return out;
}

/** The real machine. pcsc() and processes() are memoised: one PC/SC context and one /proc snapshot per run. */
export function createNodeDoctorEnv(env: NodeJS.ProcessEnv = process.env): DoctorEnv {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (containers running as an arbitrary uid).
    name = String(process.getuid?.() ?? '?');
  }
  let pcscOnce: Promise<PcscProbe> | null = null;
  let processesOnce: Promise<ProcessInfo[]> | null = null;
  return {
    env,
    user: { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, groups: process.getgroups?.() ?? [], name },
    nodeVersion: process.versions.node,
    async stat(path) {
      try {
        const s = await stat(path);
        return { kind: kindOf(s), mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
      } catch {
        return null;
      }
    },
    async access(path, mode) {
      try {
        await access(path, mode === 'rw' ? fsConstants.R_OK | fsConstants.W_OK : fsConstants.R_OK);
        return true;
      } catch {
        return false;
      }
    },
    async readText(path) {
      try {
        return await readFile(path, 'utf8');
      } catch {
        return null;
      }
    },
    async readBytes(path) {
      try {
        return new Uint8Array(await readFile(path));
      } catch {
        return null;
      }
    },
    async list(dir) {
      try {
        return (await readdir(dir)).sort();
      } catch {
        return null;
      }
    },
    run(cmd, args, o) {
      return new Promise<RunOutcome | null>((resolve) => {
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: o.signal, timeout: Math.max(1, o.deadline.remaining()) });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ENOENT' ? null : { status: null, stdout, stderr: stderr || e.message }));
        child.once('close', (status) => resolve({ status, stdout, stderr }));
      });
    },
    connectUnix: (path, o) => connect({ path }, o),
    connectTcp: (host, port, o) => connect({ host, port }, o),
    async tcpListeners(): Promise<TcpListener[]> {
      const v4 = (await readFile('/proc/net/tcp', 'utf8').catch(() => '')) as string;
      const v6 = (await readFile('/proc/net/tcp6', 'utf8').catch(() => '')) as string;
      return [...parseProcNetTcp(v4, 4), ...parseProcNetTcp(v6, 6)];
    },
    // One snapshot per run: the pcscd and agent checks both ask.
    processes: () => (processesOnce ??= readProcesses()),
    pcsc(o) {
      pcscOnce ??= probePcsc(o);
      return pcscOnce;
    },
    async fidoHidDevices(o): Promise<HidProbe> {
      try {
        // Imported here, not at the top: node-hid's `require` fails without libusb-1.0, and
        // that must be a finding, not a crash of the whole doctor.
        const { listFidoHidDevices } = await import('../../drivers/hid/hid-enumerator.ts');
        return await bounded<HidProbe>(
          listFidoHidDevices().then((devices) => ({ ok: true, devices })),
          o,
          () => ({ ok: false, error: 'HID enumeration did not finish in time' }),
        );
      } catch (e) {
        return { ok: false, error: errText(e) };
      }
    },
    async loadModule(name) {
      try {
        await import(name);
        return null;
      } catch (e) {
        return errText(e);
      }
    },
  };
}
