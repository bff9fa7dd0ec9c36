import type { Db, Session } from '../store/index.js';
import { randomSecret, sha256 } from './tokens.js';

export const SESSION_COOKIE = 'slipway_session';
/** a session ends 30 days after login, or after 7 days without a request, whichever comes first */
export const SESSION_MAX_MS = 30 * 86_400_000;
export const SESSION_IDLE_MS = 7 * 86_400_000;
/** last_seen_at is written at most once a minute per session */
const TOUCH_MS = 60_000;

export interface SessionTimes {
  maxMs: number;
  idleMs: number;
}
const DEFAULT_TIMES: SessionTimes = { maxMs: SESSION_MAX_MS, idleMs: SESSION_IDLE_MS };

/** Start a session; returns the cookie value (shown once, stored as sha256) and the CSRF token. */
export async function createSession(db: Db, userId: string | null, ip: string | null, times = DEFAULT_TIMES): Promise<{ id: string; csrf: string; session: Session }> {
  const id = randomSecret();
  const now = Date.now();
  const session: Session = { id_hash: sha256(id), user_id: userId, csrf: randomSecret(), created_at: now, last_seen_at: now, expires_at: now + times.maxMs, ip };
  await db.insertInto('sessions').values(session).execute();
  return { id, csrf: session.csrf, session };
}

/** The live session for a cookie value (neither past its end nor idle too long), touched; an ended one is deleted. */
export async function findLiveSession(db: Db, id: string, times = DEFAULT_TIMES, now = Date.now()): Promise<Session | undefined> {
  const hash = sha256(id);
  const session = await db.selectFrom('sessions').selectAll().where('id_hash', '=', hash).executeTakeFirst();
  if (session === undefined) return undefined;
  if (Number(session.expires_at) <= now || Number(session.last_seen_at) + times.idleMs <= now) {
    await db.deleteFrom('sessions').where('id_hash', '=', hash).execute();
    return undefined;
  }
  if (now - Number(session.last_seen_at) >= TOUCH_MS) {
    await db.updateTable('sessions').set({ last_seen_at: now }).where('id_hash', '=', hash).execute();
    session.last_seen_at = now;
  }
  return session;
}

export async function endSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

/** Log out everywhere: every session of the user (null: every installation-admin session). */
export async function endAllSessions(db: Db, userId: string | null): Promise<number> {
  const q = db.deleteFrom('sessions');
  const result = await (userId === null ? q.where('user_id', 'is', null) : q.where('user_id', '=', userId)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The Set-Cookie value: httpOnly, SameSite=Lax, Path=/, Secure when the API is served over HTTPS. */
export function sessionCookie(value: string, secure: boolean, maxAgeSeconds: number): string {
  return [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`, ...(secure ? ['Secure'] : [])].join('; ');
}

/** The session id from a Cookie header, if there is one. */
export function readSessionCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
