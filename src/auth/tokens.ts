import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { newId } from '../ids.js';
import type { Db, Token } from '../store/index.js';

/** Personal tokens start slp_pat_, project deploy tokens slp_dpl_: a leaked one is recognisable (and greppable by secret scanners). */
export const PERSONAL_PREFIX = 'slp_pat_';
export const DEPLOY_PREFIX = 'slp_dpl_';
/** how many characters of a token are kept in clear to recognise it: the prefix and 4 random ones */
const SHOWN = 12;

/** 32 random bytes, base64url: the secret part of tokens, session ids, CSRF tokens and invitation links. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Only this is stored for tokens, session ids and invitation links: a lookup by hash needs no comparison of the secret itself. */
export function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface NewToken {
  kind: 'personal' | 'deploy';
  name: string;
  userId: string | null;
  teamId: string | null;
  projectId: string | null;
  expiresAt: number | null;
}

/** Store a new token (hash only) and return the row and the token, shown once. */
export async function insertToken(db: Db, t: NewToken): Promise<{ row: Token; token: string }> {
  const token = (t.kind === 'deploy' ? DEPLOY_PREFIX : PERSONAL_PREFIX) + randomSecret();
  const row: Token = {
    id: newId('k'),
    hash: sha256(token),
    prefix: token.slice(0, SHOWN),
    kind: t.kind,
    name: t.name,
    user_id: t.userId,
    team_id: t.teamId,
    project_id: t.projectId,
    created_at: Date.now(),
    expires_at: t.expiresAt,
    last_used_at: null,
    revoked_at: null,
  };
  await db.insertInto('tokens').values(row).execute();
  return { row, token };
}

/** The live token for a bearer secret: not revoked, not expired. */
export async function findLiveToken(db: Db, token: string, now = Date.now()): Promise<Token | undefined> {
  if (!token.startsWith(PERSONAL_PREFIX) && !token.startsWith(DEPLOY_PREFIX)) return undefined;
  const row = await db.selectFrom('tokens').selectAll().where('hash', '=', sha256(token)).where('revoked_at', 'is', null).executeTakeFirst();
  if (row === undefined || (row.expires_at !== null && Number(row.expires_at) <= now)) return undefined;
  return row;
}

/** last_used_at is a minute precise: one write a minute per busy token, not one per request. */
export async function markTokenUsed(db: Db, row: Token, now = Date.now()): Promise<void> {
  if (row.last_used_at !== null && now - Number(row.last_used_at) < 60_000) return;
  await db.updateTable('tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
}

export function checkTokenName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 100) {
    throw new AppError('VALIDATION', 'name must be 1-100 characters saying what the token is for.', { hint: 'For example: {"name": "github actions"}' });
  }
  return value.trim();
}

/** An ISO time in the future (or nothing: no expiry). */
export function checkExpiry(value: unknown, now = Date.now()): number | null {
  if (value === undefined || value === null) return null;
  const at = typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(at) || at <= now)
    throw new AppError('VALIDATION', 'expiresAt must be an ISO-8601 time in the future.', { hint: `For example: {"expiresAt": "${new Date(now + 90 * 86_400_000).toISOString()}"}` });
  return at;
}

export function serializeToken(row: Token, names: { team: string | null; project: string | null }) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    team: names.team,
    project: names.project,
    createdAt: iso(row.created_at),
    lastUsedAt: iso(row.last_used_at),
    expiresAt: iso(row.expires_at),
  };
}
