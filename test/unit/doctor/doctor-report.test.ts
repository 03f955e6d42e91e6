import { describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../../src/cli/doctor/check.ts';
import { ALL_CHECKS, formatReport, runDoctor } from '../../../src/cli/doctor/doctor-report.ts';
import { OPTIONS, fakeEnv } from './fake-machine.ts';

const fixed = (id: string, status: 'ok' | 'warn' | 'fail', fix: string[] = []): DoctorCheck => ({
  id,
  title: id,
  run: async () => ({ id, title: id, status, summary: `${id} is ${status}`, details: [`${id} detail`], fix }),
});

describe('doctor report', () => {
  it('exits 0 with warnings only, 1 when something failed', async () => {
    const warnOnly = await runDoctor({ env: fakeEnv({}), options: OPTIONS, checks: [fixed('a', 'ok'), fixed('b', 'warn')] });
    expect(warnOnly).toMatchObject({ schema: 'keytap.doctor/1', ok: true, exitCode: 0, counts: { ok: 1, warn: 1, fail: 0 } });
    const failed = await runDoctor({ env: fakeEnv({}), options: OPTIONS, checks: [fixed('a', 'ok'), fixed('b', 'warn'), fixed('c', 'fail')] });
    expect(failed).toMatchObject({ ok: false, exitCode: 1, counts: { ok: 1, warn: 1, fail: 1 } });
    expect(failed.checks.map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });

  it('turns a check that throws into a fail line instead of ending the run', async () => {
    const boom: DoctorCheck = { id: 'boom', title: 'boom', run: async () => Promise.reject(new Error('EIO reading /proc')) };
    const r = await runDoctor({ env: fakeEnv({}), options: OPTIONS, checks: [boom, fixed('a', 'ok')] });
    expect(r.exitCode).toBe(1);
    expect(r.checks[0]).toMatchObject({ id: 'boom', status: 'fail' });
    expect(r.checks[0]!.summary).toContain('EIO reading /proc');
  });

  it('prints one [ok]/[warn]/[fail] line per check, details for problems, then the fix', async () => {
    const r = await runDoctor({ env: fakeEnv({}), options: OPTIONS, checks: [fixed('a', 'ok'), fixed('b', 'fail', ['run this', 'then that'])] });
    const text = formatReport(r);
    expect(text.split('\n')).toEqual(['[ok]   a: a is ok', '[fail] b: b is fail', '       - b detail', '       fix: run this', '            then that', '', '1 check ok, 0 warnings, 1 failure', '']);
    expect(formatReport(r, { verbose: true })).toContain('       - a detail');
  });

  it('runs every real check against a fake machine without throwing, and has unique ids', async () => {
    const r = await runDoctor({ env: fakeEnv({}), options: OPTIONS });
    expect(r.checks.map((c) => c.id)).toEqual(ALL_CHECKS.map((c) => c.id));
    expect(new Set(r.checks.map((c) => c.id)).size).toBe(ALL_CHECKS.length);
    for (const c of r.checks) expect(c.summary).not.toMatch(/the check itself failed/);
    // The empty fake machine has no pcscd at all.
    expect(r.checks.find((c) => c.id === 'pcscd')!.status).toBe('fail');
  });
});
