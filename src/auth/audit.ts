import { AppError } from '../errors/index.js';
import type { AuditEvent, Db } from '../store/index.js';
import type { Caller } from './caller.js';

export interface AuditEntry {
  action: string;
  /** what it was done to: a project name, a deployment id, a user's email, a token name */
  target: string;
  details?: Record<string, unknown>;
}

/** The actor as the audit trail names it. */
export function actorOf(caller: Caller): { type: 'user' | 'token' | 'admin'; id: string; email: string | null } {
  if (caller.kind === 'admin') return { type: 'admin', id: 'admin', email: null };
  if (caller.kind === 'deploy') return { type: 'token', id: caller.token.id, email: null };
  // a personal token acts as its user: the trail names the person (and the token in the details)
  return { type: 'user', id: caller.user.id, email: caller.user.email };
}

/**
 * Write one audit event for a team, in the caller's transaction, so the trail has an event
 * exactly when the change committed.
 */
export async function recordAudit(db: Db, teamId: string | null, caller: Caller, ip: string | null, entry: AuditEntry): Promise<void> {
  if (teamId === null) return; // a project outside any team (made before teams, outside the API): only the admin sees it
  const actor = actorOf(caller);
  const details = { ...(entry.details ?? {}), ...(caller.kind === 'user' && caller.token !== undefined ? { tokenId: caller.token.id } : {}) };
  await db
    .insertInto('audit_events')
    .values({ team_id: teamId, actor_type: actor.type, actor_id: actor.id, actor_email: actor.email, action: entry.action, target: entry.target, details: JSON.stringify(details), at: Date.now(), ip })
    .execute();
}

/**
 * Write one audit event whose actor is a git host's webhook delivery (actor type 'webhook',
 * actor id the provider: 'github', 'gitlab', 'gitea'), in the caller's transaction.
 */
export async function recordWebhookAudit(db: Db, teamId: string | null, provider: string, entry: AuditEntry): Promise<void> {
  if (teamId === null) return;
  await db
    .insertInto('audit_events')
    .values({
      team_id: teamId,
      actor_type: 'webhook',
      actor_id: provider,
      actor_email: null,
      action: entry.action,
      target: entry.target,
      details: JSON.stringify(entry.details ?? {}),
      at: Date.now(),
      ip: null,
    })
    .execute();
}

const PAGE = 50;

/** A page of a team's events, newest first; the cursor is the id to continue below. */
export async function readAudit(db: Db, teamId: string, cursor: string | undefined, limit = PAGE): Promise<{ events: ReturnType<typeof serializeEvent>[]; nextCursor: string | null }> {
  let q = db
    .selectFrom('audit_events')
    .selectAll()
    .where('team_id', '=', teamId)
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (cursor !== undefined && cursor !== '') {
    const below = Number(cursor);
    if (!Number.isInteger(below) || below < 1)
      throw new AppError('VALIDATION', 'cursor must be the nextCursor of a previous page.', { hint: 'Start without ?cursor=, then pass the nextCursor it answers.' });
    q = q.where('id', '<', below);
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  return { events: page.map(serializeEvent), nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null };
}

function serializeEvent(e: AuditEvent) {
  return {
    id: String(e.id),
    at: new Date(Number(e.at)).toISOString(),
    actor: { type: e.actor_type, id: e.actor_id, ...(e.actor_email === null ? {} : { email: e.actor_email }) },
    action: e.action,
    target: e.target,
    details: JSON.parse(e.details) as Record<string, unknown>,
    ip: e.ip,
  };
}
