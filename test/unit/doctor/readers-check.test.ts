import { describe, expect, it } from 'vitest';
import { denyRuleFor, looksLikeSecurityKey, readersCheck } from '../../../src/cli/doctor/readers-check.ts';
import { parseReaderRule, readerAllowed } from '../../../src/readers/reader-rules.ts';
import { fixText, runCheck } from './fake-machine.ts';

describe('PC/SC readers check (nfc-pcsc #70: a key\'s CCID interface is not a badge reader)', () => {
  it('lists readers and reports a YubiKey CCID interface as excluded by the default deny rules', async () => {
    const r = await runCheck(readersCheck, { pcsc: { ok: true, readers: ['ACS ACR122U PICC Interface 00 00', 'Yubico YubiKey OTP+FIDO+CCID 00 00'] } });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('2 reader(s): ACS ACR122U PICC Interface 00 00, Yubico YubiKey OTP+FIDO+CCID 00 00');
    expect(r.details).toContain('ACS ACR122U PICC Interface 00 00');
    expect(r.details).toContain('Yubico YubiKey OTP+FIDO+CCID 00 00 (security key CCID interface: excluded by the default deny rules)');
  });

  it('warns about a security-key-like reader the deny rules miss, with a rule that then excludes it', async () => {
    const name = 'Google Titan Security Key (FIDO) 00 00';
    const r = await runCheck(readersCheck, { pcsc: { ok: true, readers: [name, 'Virtual PCD 00 00'] } });
    expect(r.status).toBe('warn');
    expect(r.summary).toContain(name);
    const rule = denyRuleFor(name);
    expect(fixText(r)).toContain(rule);
    // The suggested rule really excludes the reader on every slot, and not others.
    const parsed = parseReaderRule(rule);
    expect(readerAllowed({ name }, { deny: [parsed] })).toBe(false);
    expect(readerAllowed({ name: 'Google Titan Security Key (FIDO) 01 00' }, { deny: [parsed] })).toBe(false);
    expect(readerAllowed({ name: 'ACS ACR122U 00 00' }, { deny: [parsed] })).toBe(true);
  });

  it('is ok with no readers and says how to look', async () => {
    const r = await runCheck(readersCheck, { pcsc: { ok: true, readers: [] } });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('no PC/SC readers attached');
  });

  it('warns (not fails: the pcscd check owns that) when pcscd cannot be reached', async () => {
    const r = await runCheck(readersCheck, { pcsc: { ok: false, error: 'Service not available.(0x8010001d)' } });
    expect(r.status).toBe('warn');
    expect(r.summary).toContain('Service not available');
    expect(fixText(r)).toContain('pcscd check');
  });

  it.each([
    ['Yubico YubiKey OTP+FIDO+CCID 00 00', true],
    ['Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00', true],
    ['Feitian ePass FIDO 00 00', true],
    ['HID Global OMNIKEY 5022 Smart Card Reader 00 00', false],
    ['ACS ACR1252 1S CL Reader PICC 00 00', false],
    ['Virtual PCD 00 00', false],
  ])('recognises %s as a security key: %s', (name, expected) => {
    expect(looksLikeSecurityKey(name)).toBe(expected);
  });
});
