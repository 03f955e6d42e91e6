/**
 * The rpId rule for browser connections (DESIGN.md §5, WebAuthn §5.1.3 "relying party
 * identifier"): an origin may use an rpId that is its host, or a registrable suffix of it.
 *
 * Without the Public Suffix List (the agent ships no data files it would have to keep fresh and
 * makes no network calls) "registrable" is approximated conservatively: the rpId must be a
 * dot-boundary suffix of the host with at least two labels (so `com` or `co` alone are never
 * accepted); an IP-address host only allows itself. Documented in docs/security.md.
 */
import { isIP } from 'node:net';

export function rpIdAllowedForOrigin(rpId: string, origin: string): boolean {
  let host: string;
  try {
    host = new URL(origin).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const id = rpId.toLowerCase();
  if (id === host) return true;
  if (isIP(host) !== 0) return false;
  if (!host.endsWith(`.${id}`)) return false;
  const labels = id.split('.');
  return labels.length >= 2 && labels.every((l) => l.length > 0);
}
