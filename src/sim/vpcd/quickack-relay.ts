/**
 * Why this exists: vpcd writes the 2-byte length and the APDU in two `send()` calls, so Nagle
 * on its side waits for our ACK of the first, and Linux delays that ACK by ~40 ms: every APDU
 * costs ~44 ms (reference/environment.md). Only TCP_QUICKACK, re-armed after every read,
 * avoids it, and Node's `net` cannot set it. This relay is a few lines of Python (any python3;
 * the standard library has the option) that owns the TCP socket, re-arms TCP_QUICKACK after
 * each `recv`, and shuttles bytes over stdio pipes (no Nagle on pipes).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';

const SCRIPT = String.raw`
import os, socket, sys, select
host, port = sys.argv[1], int(sys.argv[2])
QA = getattr(socket, 'TCP_QUICKACK', 12)
try:
    s = socket.create_connection((host, port), timeout=5)
except OSError as e:
    sys.stderr.write('error %s\n' % e); sys.stderr.flush(); sys.exit(2)
s.settimeout(None)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.IPPROTO_TCP, QA, 1)
sys.stderr.write('connected\n'); sys.stderr.flush()
fd = sys.stdin.fileno()
while True:
    r, _, _ = select.select([s, fd], [], [])
    if s in r:
        d = s.recv(65536)
        s.setsockopt(socket.IPPROTO_TCP, QA, 1)
        if not d: sys.exit(0)
        os.write(1, d)
    if fd in r:
        d = os.read(fd, 65536)
        if not d:
            s.close(); sys.exit(0)
        s.sendall(d)
        s.setsockopt(socket.IPPROTO_TCP, QA, 1)
`;

/** The python3 to run the relay with, or null when none is found. */
export function findPython(): string | null {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) if (existsSync(p)) return p;
  return null;
}

/** Starts the relay; the child's stdout/stdin carry the raw TCP stream. */
export function spawnQuickAckRelay(python: string, host: string, port: number): ChildProcessWithoutNullStreams {
  return spawn(python, ['-u', '-c', SCRIPT, host, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
}
