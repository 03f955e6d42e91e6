import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PROFILE, InvalidProfileError, listProfiles, loadProfile, PROFILES_DIR, UnknownProfileError } from '../../../src/sim/profiles.ts';

describe('device profiles', () => {
  it('ships the six required profiles with provenance in each file', () => {
    const names = listProfiles();
    for (const n of ['yubikey-5-nfc-5.7', 'yubikey-5-nfc-pin1', 'security-key-nfc-5.4.3', 'nitrokey-fido2', 'token2-t2f2', 'solo-1']) {
      expect(names).toContain(n);
      const p = loadProfile(n);
      expect(p.provenance.sourceKind).toMatch(/raw capture|MDS statement/);
      expect(p.provenance.url ?? p.provenance.repo).toBeTruthy();
      expect(p.getInfo.aaguid).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('defaults to the CTAP 2.1 YubiKey 5 NFC 5.7 with PIN protocols [2, 1] (MDS statement)', () => {
    const p = loadProfile();
    expect(p.name).toBe(DEFAULT_PROFILE);
    expect(p.getInfo.versions).toContain('FIDO_2_1');
    expect(p.getInfo.pinUvAuthProtocols).toEqual([2, 1]);
    expect(p.getInfo.options?.clientPin).toBe(false);
    expect(p.behaviour).toMatchObject({ maxPinRetries: 8, resetWindowMs: 5000, thirdWrongPinStatus: 0x34, pinRetriesWithoutPin: 'error-0x35', keepaliveIntervalMs: 100 });
  });

  it('carries vendor differences (fido.md §14): 10 s reset window and 0x31 third wrong PIN on Nitrokey', () => {
    const p = loadProfile('nitrokey-fido2');
    expect(p.behaviour.resetWindowMs).toBe(10_000);
    expect(p.behaviour.thirdWrongPinStatus).toBe(0x31);
    expect(loadProfile('yubikey-5-nfc-pin1').getInfo.pinUvAuthProtocols).toEqual([1]);
    expect(loadProfile('solo-1').getInfo.versions).not.toContain('FIDO_2_1');
    expect(loadProfile('token2-t2f2').getInfo.options?.setMinPINLength).toBe(true);
  });

  it('loads a profile from a file path, validating it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-profile-'));
    try {
      const base = JSON.parse(readFileSync(join(PROFILES_DIR, 'solo-1.json'), 'utf8'));
      const file = join(dir, 'my-rig-key.json');
      writeFileSync(file, JSON.stringify({ ...base, name: 'my-rig-key', behaviour: { ...base.behaviour, resetWindowMs: 2500 } }));
      const p = loadProfile(file);
      expect(p.name).toBe('my-rig-key');
      expect(p.behaviour.resetWindowMs).toBe(2500);
      writeFileSync(file, JSON.stringify({ ...base, behaviour: { thirdWrongPinStatus: '0x99' } }));
      expect(() => loadProfile(file)).toThrow(InvalidProfileError);
      expect(() => loadProfile(join(dir, 'absent.json'))).toThrow(UnknownProfileError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown name with a typed error naming the valid ones', () => {
    let err: unknown;
    try {
      loadProfile('no-such-key');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownProfileError);
    expect((err as UnknownProfileError).code).toBe('SIM_UNKNOWN_PROFILE');
    expect((err as UnknownProfileError).name).toBe('UnknownProfileError');
    expect((err as UnknownProfileError).message).toContain('yubikey-5-nfc-5.7');
    expect((err as UnknownProfileError).details.validNames).toEqual(listProfiles());
  });
});
