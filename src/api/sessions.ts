/**
 * Browser sessions: a token is exchanged once for a random session id in an HttpOnly,
 * SameSite=Strict cookie, and a CSRF token the page keeps in memory and sends back in a header on
 * every state-changing request (checked with the request's Origin). In memory: a restarted master
 * asks the browser to log in again.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from './tokens.ts';

export const COOKIE = 'drover_session';
export const CSRF_HEADER = 'x-csrf-token';
const TTL_MS = 12 * 3_600_000;
const MAX = 10_000;

export interface Session {
  readonly principal: Principal;
  /** The token's hash: the session ends when the token is revoked. */
  readonly tokenHash: string;
  readonly csrf: string;
  readonly expires: number;
}

export class Sessions {
  private readonly byId = new Map<string, Session>();

  create(principal: Principal, tokenHash: string, now = Date.now()): { id: string; session: Session } {
    if (this.byId.size >= MAX) this.byId.delete(this.byId.keys().next().value!); // the oldest goes
    const id = randomBytes(32).toString('base64url');
    const session = { principal, tokenHash, csrf: randomBytes(32).toString('base64url'), expires: now + TTL_MS };
    this.byId.set(id, session);
    return { id, session };
  }

  get(id: string | undefined, now = Date.now()): Session | undefined {
    const s = id === undefined ? undefined : this.byId.get(id);
    if (s && s.expires <= now) { this.byId.delete(id!); return undefined; }
    return s;
  }

  end(id: string | undefined): void { if (id !== undefined) this.byId.delete(id); }
}

export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
