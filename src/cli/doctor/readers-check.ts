/**
 * PC/SC readers that pcscd sees, and which of them are really a security key's own CCID
 * interface (a YubiKey shows up as "Yubico YubiKey OTP+FIDO+CCID 00 00"): those must be
 * excluded from badge reading by the reader deny rules (src/readers/reader-rules.ts), or a
 * tap would be "read" from the key on every insert (nfc-pcsc #70/#137).
 */
import { DEFAULT_DENY, readerAllowed } from '../../readers/reader-rules.ts';
import { result, type CheckContext, type CheckResult, type DoctorCheck } from './check.ts';

/**
 * Names that suggest a FIDO/PIV token rather than a badge reader. Broader than DEFAULT_DENY on
 * purpose: a hit that the deny rules miss is what the technician must act on.
 */
const TOKEN_LIKE = /\b(yubi(key|co)|nitrokey|solo ?keys?|token2|onlykey|feitian|epass|biopass|titan|hyperfido|thetis|gotrust|trustkey|swissbit|ledger|trezor|fido|u2f|piv)\b/i;

/** Whether a reader name looks like a security key's CCID interface. */
export function looksLikeSecurityKey(name: string): boolean {
  return TOKEN_LIKE.test(name);
}

/** A `name:` rule matching this reader on any slot (`... 00 00` suffix dropped, regex-escaped). */
export function denyRuleFor(name: string): string {
  const base = name.replace(/\s+\d{2}\s+\d{2}$/, '');
  return `name:^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
}

export const readersCheck: DoctorCheck = {
  id: 'pcsc-readers',
  title: 'PC/SC readers',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const probe = await ctx.env.pcsc({ signal: ctx.signal, deadline: ctx.deadline });
    if (!probe.ok) return result(this, 'warn', `cannot list readers: pcscd not reachable (${probe.error})`, [], ['fix the pcscd check first']);
    if (probe.readers.length === 0) {
      return result(this, 'ok', 'no PC/SC readers attached', ['plug a reader in and re-run; `pcsc_scan -n` shows what pcscd sees']);
    }
    const details: string[] = [];
    const leaks: string[] = [];
    for (const name of probe.readers) {
      const key = looksLikeSecurityKey(name);
      const denied = !readerAllowed({ name }, { deny: DEFAULT_DENY });
      if (key && !denied) leaks.push(name);
      const note = denied ? ' (security key CCID interface: excluded by the default deny rules)' : key ? ' (looks like a security key, NOT excluded)' : /virtual pcd/i.test(name) ? ' (vpcd virtual reader)' : '';
      details.push(`${name}${note}`);
    }
    const summary = `${probe.readers.length} reader(s): ${probe.readers.join(', ')}`;
    if (leaks.length === 0) return result(this, 'ok', summary, details);
    return result(
      this,
      'warn',
      `${leaks.length} reader(s) look like a security key's CCID interface but pass the deny rules: ${leaks.join(', ')}`,
      details,
      leaks.map((n) => `add a reader deny rule so badge reading skips it: ${denyRuleFor(n)}`),
    );
  },
};
