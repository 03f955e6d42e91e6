/**
 * Bearer tokens (DESIGN.md §5, §6): a JSON file `{"tokens":[{"role":"client","token":"..."},
 * {"role":"admin","token":"..."}]}`, mode 0600 in a 0700 directory. If the file is missing it is
 * created atomically: written to a temporary file with mode 0600, then hard-linked into place
 * (`link` fails if another agent won the race, and then that agent's file is used; a plain
 * `rename` would silently replace it).
 *
 * Presented tokens are compared in constant time: both sides are hashed with SHA-256 first so
 * the comparison never depends on the token's length, and every stored token is compared.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { toBase64Url } from '../util/bytes.ts';
import { SecretBytes } from '../protocol/secret.ts';
import { ROLES, type Role } from '../api/constants.ts';
import { ConfigError } from './agent-errors.ts';

interface StoredToken {
  role: Role;
  /** SHA-256 of the token's UTF-8 bytes; the token itself is not kept in memory. */
  digest: Buffer;
  /** Stable, non-secret name of this token for rate limits and the audit log (`client#0`). */
  label: string;
}

/** What a matched token grants. */
export interface TokenGrant {
  role: Role;
  label: string;
}

export class TokenStore {
  readonly #tokens: StoredToken[];

  private constructor(tokens: StoredToken[], readonly path: string | null) {
    this.#tokens = tokens;
  }

  /** Builds a store from in-memory tokens (tests). */
  static fromTokens(tokens: Array<{ role: Role; token: string }>): TokenStore {
    return new TokenStore(toStored(tokens, '(memory)'), null);
  }

  /**
   * Reads `path`, creating it (and its directory, 0700) with one fresh client and one admin
   * token when it does not exist. Refuses a file that others can read or write.
   */
  static loadOrCreate(path: string): { store: TokenStore; created: boolean } {
    let created = false;
    try {
      statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      created = createTokenFile(path);
    }
    const st = statSync(path);
    if (!st.isFile()) throw new ConfigError(`tokenFile: ${path} is not a regular file`);
    if ((st.mode & 0o007) !== 0) throw new ConfigError(`tokenFile: ${path} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new ConfigError(`tokenFile: ${path} is not valid JSON`, { cause: e });
    }
    const list = (parsed as { tokens?: unknown })?.tokens;
    if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`tokenFile: ${path} must hold {"tokens":[{"role":"client"|"admin","token":"..."}]}`);
    list.forEach((t, i) => {
      const role = (t as { role?: unknown })?.role;
      const token = (t as { token?: unknown })?.token;
      if (!ROLES.includes(role as Role)) throw new ConfigError(`tokenFile: tokens[${i}].role must be "client" or "admin"`);
      if (typeof token !== 'string' || token.length < 16) throw new ConfigError(`tokenFile: tokens[${i}].token must be a string of at least 16 characters`);
    });
    return { store: new TokenStore(toStored(list as Array<{ role: Role; token: string }>, path), path), created };
  }

  /** The grant for `presented`, or null. Constant time in the token's content and length. */
  match(presented: SecretBytes): TokenGrant | null {
    const digest = createHash('sha256').update(presented.exposeSecret()).digest();
    let found: StoredToken | null = null;
    for (const t of this.#tokens) {
      // No early exit: every stored token is compared.
      if (timingSafeEqual(digest, t.digest) && found === null) found = t;
    }
    digest.fill(0);
    return found ? { role: found.role, label: found.label } : null;
  }

  get size(): number {
    return this.#tokens.length;
  }
}

function toStored(list: Array<{ role: Role; token: string }>, _source: string): StoredToken[] {
  const counters: Record<string, number> = {};
  return list.map((t) => {
    const n = (counters[t.role] = (counters[t.role] ?? -1) + 1);
    return { role: t.role, digest: createHash('sha256').update(t.token, 'utf8').digest(), label: `${t.role}#${n}` };
  });
}

/** Generates a fresh token: 32 random bytes, base64url. */
export function generateToken(): string {
  return toBase64Url(randomBytes(32));
}

/** Creates the token file atomically. Returns false when another process created it first. */
function createTokenFile(path: string): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dst = statSync(dir);
  if ((dst.mode & 0o002) !== 0) throw new ConfigError(`tokenFile: directory ${dir} is world-writable; use a private directory (0700)`);
  const body = `${JSON.stringify({ tokens: [{ role: 'client', token: generateToken() }, { role: 'admin', token: generateToken() }] }, null, 2)}\n`;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}
