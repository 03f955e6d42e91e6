/**
 * The systemd files pass systemd's own checks (DESIGN.md §8): `systemd-analyze verify` on the
 * system and user units after installing a stand-in `keytap` into a temporary root (verify
 * refuses an ExecStart= that does not exist), and `systemd-sysusers` creating the user and group
 * in a temporary root. Gated on the tools being present.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService, runs } from '../helpers/services.ts';

const gate = await requireService('systemd-analyze', runs('systemd-analyze', ['--version']));
const repo = new URL('../../', import.meta.url).pathname;

function install(unit: string): { root: string; path: string } {
  const root = mkdtempSync(join(tmpdir(), 'keytap-root-'));
  const bin = join(root, 'usr', 'bin', 'keytap');
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  writeFileSync(bin, '#!/bin/sh\nexec node /usr/lib/keytap/bin/keytap.js "$@"\n');
  chmodSync(bin, 0o755);
  const dir = join(root, 'etc', 'systemd', 'system');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'keytap.service');
  writeFileSync(path, readFileSync(join(repo, unit), 'utf8').replaceAll('/usr/bin/keytap', bin));
  return { root, path };
}

describe.skipIf(gate.skip)('systemd units (systemd-analyze verify)', () => {
  it('the system unit verifies once ExecStart exists', () => {
    const { root, path } = install('systemd/keytap.service');
    try {
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the system unit fails verification when ExecStart is missing (the check is real)', () => {
    const root = mkdtempSync(join(tmpdir(), 'keytap-root-'));
    try {
      const path = join(root, 'keytap.service');
      writeFileSync(path, readFileSync(join(repo, 'systemd/keytap.service'), 'utf8').replaceAll('/usr/bin/keytap', join(root, 'missing', 'keytap')));
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/not executable/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the user unit verifies with a user manager environment', () => {
    const { root, path } = install('systemd/user/keytap.service');
    const xdg = join(root, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    try {
      const r = spawnSync('systemd-analyze', ['verify', '--user', path], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: xdg } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the unit is hardened as DESIGN.md §8 asks', () => {
    const unit = readFileSync(join(repo, 'systemd/keytap.service'), 'utf8');
    for (const line of ['User=keytap', 'RuntimeDirectory=keytap', 'UMask=0077', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK', 'DeviceAllow=char-hidraw rw']) {
      expect(unit.split('\n')).toContain(line);
    }
  });
});

const sysusersGate = await requireService('systemd-sysusers', runs('systemd-sysusers', ['--version']));
describe.skipIf(sysusersGate.skip)('sysusers', () => {
  it('creates the keytap user and group in a temporary root', () => {
    const root = mkdtempSync(join(tmpdir(), 'keytap-root-'));
    try {
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'etc', 'passwd'), '');
      writeFileSync(join(root, 'etc', 'group'), '');
      const r = spawnSync('systemd-sysusers', [`--root=${root}`, join(repo, 'systemd/keytap.sysusers')], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(readFileSync(join(root, 'etc', 'passwd'), 'utf8')).toMatch(/^keytap:x:\d+:\d+:keytap agent:\/nonexistent:\/usr\/sbin\/nologin$/m);
      expect(readFileSync(join(root, 'etc', 'group'), 'utf8')).toMatch(/^keytap:x:\d+:$/m);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
