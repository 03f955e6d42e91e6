/**
 * Reader allow/deny rules (DESIGN.md §4; nfc-pcsc #70/#137): a security key's own CCID
 * interface shows up as a PC/SC reader and must not be taken for a badge reader.
 * A rule matches by name (regular expression, case-insensitive) and/or VID:PID (hex, `*` for
 * any product). Deny wins; when an allow list is given, a reader must match it.
 */
export interface ReaderRule {
  /** Regular expression source, matched case-insensitively against the reader name. */
  name?: string;
  /** `VVVV:PPPP` or `VVVV:*` (hex). Only readers whose VID/PID are known can match. */
  vidPid?: string;
}

export interface ReaderRules {
  allow?: ReaderRule[];
  /** Replaces `DEFAULT_DENY` when given. */
  deny?: ReaderRule[];
}

/**
 * Security keys whose CCID/PIV interface appears as a PC/SC reader. Names as libccid builds them
 * ("Yubico YubiKey OTP+FIDO+CCID 00 00", "Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00").
 */
export const DEFAULT_DENY: ReaderRule[] = [
  { name: '\\byubi(key|co)\\b' },
  { name: '\\bnitrokey\\b' },
  { name: '\\bsolo ?key' },
  { name: '\\btoken2\\b' },
  { name: '\\bonlykey\\b' },
  { name: 'feitian.*(epass|biopass|allinpass)' },
  { vidPid: '1050:*' }, // Yubico
  { vidPid: '20a0:42b2' }, // Nitrokey 3
];

export interface ReaderIdentity {
  name: string;
  vendorId?: number;
  productId?: number;
}

function matches(rule: ReaderRule, r: ReaderIdentity): boolean {
  if (rule.name === undefined && rule.vidPid === undefined) return false;
  if (rule.name !== undefined && !new RegExp(rule.name, 'i').test(r.name)) return false;
  if (rule.vidPid !== undefined) {
    if (r.vendorId === undefined) return false;
    const [v, p] = rule.vidPid.toLowerCase().split(':');
    if (parseInt(v!, 16) !== r.vendorId) return false;
    if (p !== undefined && p !== '*' && (r.productId === undefined || parseInt(p, 16) !== r.productId)) return false;
  }
  return true;
}

/** Whether a reader may be used as a badge reader. */
export function readerAllowed(r: ReaderIdentity, rules: ReaderRules = {}): boolean {
  const deny = rules.deny ?? DEFAULT_DENY;
  if (deny.some((rule) => matches(rule, r))) return false;
  if (rules.allow && rules.allow.length > 0) return rules.allow.some((rule) => matches(rule, r));
  return true;
}

/** Parses a CLI/config rule: `name:REGEX`, `vidpid:VVVV:PPPP`, or a bare regex (name). */
export function parseReaderRule(text: string): ReaderRule {
  if (/^vidpid:/i.test(text)) {
    const v = text.slice(7);
    if (!/^[0-9a-f]{4}:([0-9a-f]{4}|\*)$/i.test(v)) throw new RangeError(`bad VID:PID rule ${JSON.stringify(text)}`);
    return { vidPid: v };
  }
  const name = /^name:/i.test(text) ? text.slice(5) : text;
  new RegExp(name); // throws SyntaxError early on a bad pattern
  return { name };
}
