import { AppError } from '../errors/index.js';
import { safeEqual } from '../secrets.js';
import type { Db, Session, Token, User } from '../store/index.js';
import { findUser } from './accounts.js';
import { findLiveSession, readSessionCookie } from './sessions.js';
import { findLiveToken, markTokenUsed } from './tokens.js';

/**
 * Who is calling. `via` says how they proved it: a cookie session needs the CSRF header on
 * changes, a bearer token does not.
 *   - admin: the installation admin token (or a session made from it): every team, as owner
 *   - user: a person, by session or personal token (a team-scoped token reaches that team only)
 *   - deploy: a project deploy token: read and deploy that one project
 */
export type Caller =
  | { kind: 'admin'; via: 'token' | 'session'; session?: Session }
  | { kind: 'user'; via: 'token' | 'session'; user: User; session?: Session; token?: Token }
  | { kind: 'deploy'; via: 'token'; token: Token };

export interface Credentials {
  authorization: string | undefined;
  cookie: string | undefined;
}

/**
 * The caller for a request's credentials: undefined when it sends none; UNAUTHORIZED when what it
 * sends is not (or no longer) valid. A bearer token wins over a cookie.
 */
export async function resolveCaller(db: Db, adminToken: string, creds: Credentials): Promise<Caller | undefined> {
  if (creds.authorization !== undefined && creds.authorization !== '') {
    // the scheme is case-insensitive (RFC 9110 section 11.1): "bearer" works as well as "Bearer"
    const bearer = /^bearer[ \t]+(.*)$/i.exec(creds.authorization)?.[1]?.trim();
    if (bearer === undefined || bearer === '') throw new AppError('UNAUTHORIZED', 'This endpoint needs an API token.');
    return fromToken(db, adminToken, bearer);
  }
  const sessionId = readSessionCookie(creds.cookie);
  if (sessionId === undefined) return undefined;
  const session = await findLiveSession(db, sessionId);
  if (session === undefined) throw new AppError('UNAUTHORIZED', 'Your session has ended.', { hint: 'Log in again.' });
  if (session.user_id === null) return { kind: 'admin', via: 'session', session };
  const user = await findUser(db, session.user_id);
  if (user === undefined) throw new AppError('UNAUTHORIZED', 'Your session has ended.', { hint: 'Log in again.' });
  return { kind: 'user', via: 'session', user, session };
}

/** A bearer token as a caller (the admin token compared in constant time; other tokens found by their hash). */
export async function fromToken(db: Db, adminToken: string, token: string): Promise<Caller> {
  if (safeEqual(token, adminToken)) return { kind: 'admin', via: 'token' };
  const row = await findLiveToken(db, token);
  if (row === undefined)
    throw new AppError('UNAUTHORIZED', 'The API token is not valid.', { hint: 'It may have been revoked or have expired: make a new one with POST /api/v1/tokens (slipway tokens create).' });
  await markTokenUsed(db, row);
  if (row.kind === 'deploy') return { kind: 'deploy', via: 'token', token: row };
  const user = row.user_id === null ? undefined : await findUser(db, row.user_id);
  if (user === undefined) throw new AppError('UNAUTHORIZED', 'The API token is not valid.');
  return { kind: 'user', via: 'token', user, token: row };
}

/** The user id a caller acts as (null: the installation admin; a deploy token: its maker). */
export function callerUserId(caller: Caller): string | null {
  if (caller.kind === 'user') return caller.user.id;
  if (caller.kind === 'deploy') return caller.token.user_id;
  return null;
}
