import { describe, expect, it } from 'vitest';
import { agentCheck } from '../../../src/cli/doctor/agent-check.ts';
import { fixText, runCheck, type FakeMachine } from './fake-machine.ts';

const RT = '/run/user/1000/keytap';
const SOCK = `${RT}/keytap.sock`;
const TOKENS = `${RT}/tokens.json`;
const SECRET = 'tok_do-not-print-me-0123456789abcdef';
const env = { XDG_RUNTIME_DIR: '/run/user/1000' };

function agent(o: { tokenMode?: number; dirMode?: number; tokenUid?: number; socket?: boolean } = {}): FakeMachine {
  return {
    env,
    files: {
      [RT]: { kind: 'dir', mode: o.dirMode ?? 0o700, uid: 1000, gid: 1000 },
      ...(o.socket === false ? {} : { [SOCK]: { kind: 'socket', mode: 0o660, uid: 1000, gid: 1000 } }),
      [TOKENS]: { mode: o.tokenMode ?? 0o600, uid: o.tokenUid ?? 1000, gid: 1000, content: JSON.stringify({ tokens: [{ role: 'admin', token: SECRET }] }) },
    },
    unix: { [SOCK]: { ok: true } },
  };
}

describe('agent check (DESIGN.md §6: token file 0600 in a 0700 directory)', () => {
  it('is ok when the socket answers and the token file is private, and never prints the token', async () => {
    const r = await runCheck(agentCheck, agent());
    expect(r.status).toBe('ok');
    expect(r.summary).toBe(`agent listening on ${SOCK}`);
    expect(r.details).toContain(`token file ${TOKENS}: 0600 alice:alice in ${RT} (0700 alice:alice)`);
    expect(JSON.stringify(r)).not.toContain(SECRET);
  });

  it('reports TCP 127.0.0.1:7391 too', async () => {
    const r = await runCheck(agentCheck, { ...agent(), tcp: { '127.0.0.1:7391': { ok: true } } });
    expect(r.summary).toBe(`agent listening on ${SOCK} and 127.0.0.1:7391`);
  });

  it('warns when no agent listens and says how to start one (keytap serve without systemd, systemctl with the unit)', async () => {
    const r = await runCheck(agentCheck, { env });
    expect(r.status).toBe('warn');
    expect(r.summary).toBe(`no keytap agent listening (${SOCK}, /run/keytap/keytap.sock, 127.0.0.1:7391)`);
    expect(fixText(r)).toContain('keytap serve');
    const unit = await runCheck(agentCheck, { env, files: { '/etc/systemd/system/keytap.service': {} }, dirs: { '/run/systemd/system': [] } });
    expect(fixText(unit)).toContain('systemctl enable --now keytap');
  });

  it('points at a keytap serve process that listens somewhere else', async () => {
    const r = await runCheck(agentCheck, { env, processes: [{ pid: 777, name: 'node', cmdline: 'node /usr/bin/keytap serve --socket /srv/kt.sock --listen 127.0.0.1:9000' }] });
    expect(r.status).toBe('warn');
    expect(r.details.join('\n')).toContain('pid 777 but not on these addresses (it uses socket /srv/kt.sock, listen 127.0.0.1:9000)');
  });

  it('warns on a stale socket and names it', async () => {
    const m = agent();
    const r = await runCheck(agentCheck, { ...m, unix: { [SOCK]: { ok: false, code: 'ECONNREFUSED' } } });
    expect(r.status).toBe('warn');
    expect(fixText(r)).toContain(`rm ${SOCK}`);
  });

  it('fails when the token file is readable by others, without printing it', async () => {
    const r = await runCheck(agentCheck, agent({ tokenMode: 0o644 }));
    expect(r.status).toBe('fail');
    expect(r.details.join('\n')).toContain('readable or writable by others (0644');
    expect(fixText(r)).toContain(`chmod 600 ${TOKENS}`);
    expect(JSON.stringify(r)).not.toContain(SECRET);
  });

  it('warns when the directory is not 0700, or the token file is someone else\'s', async () => {
    const dir = await runCheck(agentCheck, agent({ dirMode: 0o755 }));
    expect(dir.status).toBe('warn');
    expect(fixText(dir)).toContain(`chmod 700 ${RT}`);
    const owner = await runCheck(agentCheck, agent({ tokenUid: 1001 }));
    expect(owner.status).toBe('warn');
    expect(owner.details.join('\n')).toContain('owned by bob, not alice');
    expect(fixText(owner)).toContain(`chown alice ${TOKENS}`);
  });

  it('accepts the system service layout: /run/keytap 0750, tokens owned by keytap', async () => {
    const r = await runCheck(agentCheck, {
      env,
      user: { uid: 0, gid: 0, groups: [0], name: 'root' },
      files: {
        '/run/keytap': { kind: 'dir', mode: 0o750, uid: 998, gid: 998 },
        '/run/keytap/keytap.sock': { kind: 'socket', mode: 0o660, uid: 998, gid: 998 },
        '/run/keytap/tokens.json': { mode: 0o600, uid: 998, gid: 998 },
      },
      unix: { '/run/keytap/keytap.sock': { ok: true } },
    });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('agent listening on /run/keytap/keytap.sock');
  });

  it('fails when the agent configuration is invalid (a non-loopback listen address)', async () => {
    const r = await runCheck(agentCheck, { env: { ...env, KEYTAP_LISTEN: '0.0.0.0:7391' } });
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/configuration is invalid.*non-loopback/);
    expect(fixText(r)).toContain('KEYTAP_');
  });
});
