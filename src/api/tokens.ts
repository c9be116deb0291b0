/**
 * API tokens: bearer secrets with a role, kept hashed in the state directory (`api-tokens.json`,
 * mode 0600). A token is 32 random bytes: its sha256 is enough to store (nothing to brute-force),
 * and the secret itself is shown once, when it is created.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Role = 'viewer' | 'operator';
export const ROLES: readonly Role[] = ['viewer', 'operator'];

export interface TokenEntry {
  readonly name: string;
  readonly role: Role;
  /** sha256 of the secret, hex. */
  readonly hash: string;
  readonly createdAt: number;
}

export interface Principal {
  readonly name: string;
  readonly role: Role;
}

const PREFIX = 'drover_';
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const hashToken = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export class TokenFile {
  private cache: { key: string; entries: readonly TokenEntry[] } | undefined;
  readonly file: string;

  constructor(stateDir: string) { this.file = path.join(stateDir, 'api-tokens.json'); }

  /** The entries, re-read when the file changed (a revoke from the CLI takes effect at once). */
  list(): readonly TokenEntry[] {
    let key: string;
    try { const st = fs.statSync(this.file); key = `${st.mtimeMs}:${st.size}:${st.ino}`; } catch { return []; }
    if (this.cache?.key !== key) this.cache = { key, entries: (JSON.parse(fs.readFileSync(this.file, 'utf8')) as { tokens: TokenEntry[] }).tokens };
    return this.cache.entries;
  }

  /** Create a token; the secret is returned here and never again. */
  create(name: string, role: Role, now = Date.now()): string {
    if (!NAME_RE.test(name)) throw new Error(`token name "${name}" must be lower-case letters, digits, ".", "_" or "-" (up to 63)`);
    if (this.list().some((t) => t.name === name)) throw new Error(`a token named ${name} exists: revoke it first`);
    const secret = PREFIX + randomBytes(32).toString('base64url');
    this.write([...this.list(), { name, role, hash: hashToken(secret), createdAt: now }]);
    return secret;
  }

  /** False when there was no such token. */
  revoke(name: string): boolean {
    const left = this.list().filter((t) => t.name !== name);
    if (left.length === this.list().length) return false;
    this.write(left);
    return true;
  }

  /** Who holds this secret, if anyone. */
  check(secret: string): (Principal & { readonly hash: string }) | undefined {
    if (!secret.startsWith(PREFIX) || secret.length > 200) return undefined;
    const h = Buffer.from(hashToken(secret), 'hex');
    const t = this.list().find((e) => timingSafeEqual(Buffer.from(e.hash, 'hex'), h));
    return t && { name: t.name, role: t.role, hash: t.hash };
  }

  /** Still valid: a session ends when its token is revoked. */
  has(hash: string): boolean { return this.list().some((t) => t.hash === hash); }

  private write(tokens: readonly TokenEntry[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ tokens }, null, 1), { mode: 0o600 }); // hashes only, yet nobody else's business
    fs.renameSync(tmp, this.file);
    this.cache = undefined;
  }
}
