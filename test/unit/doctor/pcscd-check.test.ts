import { describe, expect, it } from 'vitest';
import { pcscdCheck } from '../../../src/cli/doctor/pcscd-check.ts';
import { fixText, runCheck, type FakeMachine } from './fake-machine.ts';

const SOCK = '/run/pcscd/pcscd.comm';
const running: FakeMachine = {
  files: { [SOCK]: { kind: 'socket', mode: 0o666 }, '/usr/sbin/pcscd': { mode: 0o755 } },
  processes: [{ pid: 4242, name: 'pcscd', cmdline: '/usr/sbin/pcscd --foreground --auto-exit' }],
  pcsc: { ok: true, readers: ['Virtual PCD 00 00'] },
  run: (cmd) => (cmd === 'ldd' ? { status: 0, stdout: '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n', stderr: '' } : null),
};
const lddPolkit = (cmd: string) =>
  cmd === 'ldd' ? { status: 0, stdout: '\tlibpolkit-gobject-1.so.0 => /lib/x86_64-linux-gnu/libpolkit-gobject-1.so.0\n', stderr: '' } : null;

describe('pcscd check (readers.md §5)', () => {
  it('is ok when the socket exists, a context is established and pcscd has no polkit linkage (Debian 12)', async () => {
    const r = await runCheck(pcscdCheck, running);
    expect(r.status).toBe('ok');
    expect(r.summary).toBe(`pcscd running (${SOCK})`);
    expect(r.details).toContain('pcscd pid 4242');
    expect(r.details.join('\n')).toMatch(/not linked against polkit/);
    expect(r.fix).toEqual([]);
  });

  it('uses PCSCLITE_CSOCK_NAME instead of the default socket', async () => {
    const r = await runCheck(pcscdCheck, { ...running, env: { PCSCLITE_CSOCK_NAME: '/tmp/pcsc.sock' } });
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('/tmp/pcsc.sock');
    const ok = await runCheck(pcscdCheck, { ...running, env: { PCSCLITE_CSOCK_NAME: '/tmp/pcsc.sock' }, files: { ...running.files, '/tmp/pcsc.sock': { kind: 'socket' } } });
    expect(ok.status).toBe('ok');
    expect(ok.summary).toBe('pcscd running (/tmp/pcsc.sock)');
  });

  it('blames PCSCLITE_CSOCK_NAME, not pcscd, when pcscd runs but the override points elsewhere', async () => {
    const r = await runCheck(pcscdCheck, { ...running, env: { PCSCLITE_CSOCK_NAME: '/tmp/elsewhere.comm' } });
    expect(r.status).toBe('fail');
    expect(fixText(r)).toContain('unset PCSCLITE_CSOCK_NAME');
    expect(fixText(r)).not.toContain('systemctl');
    const stale = await runCheck(pcscdCheck, { ...running, env: { PCSCLITE_CSOCK_NAME: '/tmp/elsewhere.comm' }, files: { ...running.files, '/tmp/elsewhere.comm': { kind: 'socket' } }, pcsc: { ok: false, error: 'Service not available.(0x8010001d)' } });
    expect(fixText(stale)).toBe('PCSCLITE_CSOCK_NAME=/tmp/elsewhere.comm but pcscd (pid 4242) may listen on /run/pcscd/pcscd.comm: unset PCSCLITE_CSOCK_NAME or point it at pcscd\'s socket');
  });

  it('fails when pcscd is not installed and says which package to install', async () => {
    const r = await runCheck(pcscdCheck, { files: {} });
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/not installed/);
    expect(fixText(r)).toContain('apt-get install pcscd');
  });

  it('fails when the socket is missing; the fix is systemctl with systemd, pcscd -f by hand without', async () => {
    const noSystemd = await runCheck(pcscdCheck, { files: { '/usr/sbin/pcscd': {} } });
    expect(noSystemd.status).toBe('fail');
    expect(noSystemd.summary).toBe(`pcscd is not running (${SOCK} missing)`);
    expect(fixText(noSystemd)).toContain('pcscd -f -e &');
    const withSystemd = await runCheck(pcscdCheck, { files: { '/usr/sbin/pcscd': {} }, dirs: { '/run/systemd/system': [] } });
    expect(fixText(withSystemd)).toContain('systemctl enable --now pcscd.socket');
  });

  it('fails on a stale socket (no pcscd process, context refused) and says to restart', async () => {
    const r = await runCheck(pcscdCheck, { ...running, processes: [], pcsc: { ok: false, error: 'SCardEstablishContext error: Service not available.(0x8010001d)' } });
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('Service not available');
    expect(fixText(r)).toMatch(/stale.*rm \/run\/pcscd\/pcscd\.comm && pcscd -f -e &/);
  });

  it('warns when pcscd links polkit and keytap runs as a system service without the rule, naming the rule file', async () => {
    const r = await runCheck(pcscdCheck, {
      ...running,
      run: lddPolkit,
      files: { ...running.files, '/etc/systemd/system/keytap.service': {} },
      dirs: { '/etc/polkit-1/rules.d': ['49-other.rules'], '/usr/share/polkit-1/rules.d': [] },
    });
    expect(r.status).toBe('warn');
    expect(r.summary).toMatch(/polkit.*system user.*no keytap polkit rule/);
    const fix = fixText(r);
    expect(fix).toContain('/etc/polkit-1/rules.d/60-keytap-pcscd.rules');
    expect(fix).toContain('org.debian.pcsc-lite.access_pcsc');
    expect(fix).toContain('org.debian.pcsc-lite.access_card');
    expect(fix).toContain('subject.user == "keytap"');
  });

  it('is ok with polkit when the keytap rule is installed', async () => {
    const r = await runCheck(pcscdCheck, {
      ...running,
      run: lddPolkit,
      user: { uid: 998, gid: 998, groups: [998], name: 'keytap' },
      dirs: { '/etc/polkit-1/rules.d': ['60-keytap-pcscd.rules'] },
    });
    expect(r.status).toBe('ok');
    expect(r.details.join('\n')).toContain('/etc/polkit-1/rules.d/60-keytap-pcscd.rules');
  });

  it('is ok with polkit for a desktop user when no system service is installed', async () => {
    const r = await runCheck(pcscdCheck, { ...running, run: lddPolkit });
    expect(r.status).toBe('ok');
    expect(r.details.join('\n')).toMatch(/seat user is allowed/);
  });

  it('adds the polkit rule to the fix when pcscd refuses a polkit-linked client', async () => {
    const r = await runCheck(pcscdCheck, { ...running, run: lddPolkit, pcsc: { ok: false, error: 'SCardEstablishContext error: Access denied.(0x8010006A)' } });
    expect(r.status).toBe('fail');
    expect(fixText(r)).toContain('/etc/polkit-1/rules.d/60-keytap-pcscd.rules');
  });
});
