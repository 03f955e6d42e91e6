/**
 * The checks made on every HTTP request and WebSocket upgrade before anything else
 * (DESIGN.md §6, readers.md §11): `Host` must be a loopback name with the agent's port
 * (DNS rebinding), and `Origin`, when present, must be on the allowlist exactly
 * (cross-site WebSocket hijacking; `null` is refused).
 */

/** True when `host` (the Host header) is `127.0.0.1:port`, `localhost:port` or `[::1]:port`. */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const h = host.trim().toLowerCase();
  return h === `127.0.0.1:${port}` || h === `localhost:${port}` || h === `[::1]:${port}`;
}

/**
 * True when the request may proceed as far as Origin is concerned: no Origin header (a native
 * client, which must then present a token), or an Origin exactly on the allowlist. `null` and
 * anything not listed are refused.
 */
export function originAllowed(origin: string | undefined, allowlist: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (origin === 'null') return false;
  return allowlist.includes(origin);
}

/** Normalises an allowlist entry: `scheme://host[:port]`, lowercase, no path. Throws on anything else. */
export function normaliseOrigin(origin: string): string {
  const u = new URL(origin);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`origin ${origin} must be http:// or https://`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) throw new Error(`origin ${origin} must not have a path, query, fragment or user info`);
  return u.origin;
}
