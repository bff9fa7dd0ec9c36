import { AppError } from '../errors/index.js';
import { newId } from '../ids.js';
import type { SecretBox } from '../secrets.js';
import type { Db, EndpointKind } from '../store/index.js';
import { EMAIL_EVENT_TYPES, EVENT_TYPES, type EventType } from './events.js';
import type { DeliveryRow, EndpointRow } from './outbox.js';
import { newSigningSecret } from './sign.js';

/** Where the endpoints of a request live: a project (and its team), or a whole team. */
export interface Scope {
  teamId: string;
  /** undefined: the team's endpoints (every project) */
  projectId?: string;
}

export interface EndpointInput {
  kind?: unknown;
  url?: unknown;
  events?: unknown;
}

const KINDS: readonly EndpointKind[] = ['webhook', 'slack', 'email'];
const MAX_ENDPOINTS = 20;

/** Check and store a new endpoint; a webhook's signing secret is returned here once, never again. */
export async function createEndpoint(db: Db, box: SecretBox, scope: Scope, input: EndpointInput, by: { userId: string | null }): Promise<{ row: EndpointRow; secret?: string }> {
  const kind = input.kind;
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    throw new AppError('VALIDATION', `kind must be one of ${KINDS.join(', ')}.`, { hint: 'For example: {"kind": "webhook", "url": "https://hooks.example.com/slipway"}' });
  }
  const events = checkEvents(input.events, kind as EndpointKind);
  let url: string | undefined;
  if (kind === 'email') {
    if (input.url !== undefined) throw new AppError('VALIDATION', "An email subscription takes no url: it mails you, at your account's address.", { hint: 'Send {"kind": "email"}.' });
    if (scope.projectId === undefined) throw new AppError('VALIDATION', 'Email is subscribed per project.', { hint: 'POST /api/v1/projects/<project>/notifications {"kind": "email"}' });
    if (by.userId === null) throw new AppError('VALIDATION', 'Only a person can subscribe to email: the admin token has no mailbox.', { hint: 'Use your own token.' });
  } else url = checkUrl(input.url);
  const count = await db
    .selectFrom('notification_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('team_id', '=', scope.teamId)
    .executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_ENDPOINTS * 5) throw new AppError('VALIDATION', 'This team has too many notification endpoints.', { hint: 'Remove some first (slipway notifications rm).' });
  if (kind === 'email') {
    const mine = await db.selectFrom('notification_endpoints').select('id').where('kind', '=', 'email').where('project_id', '=', scope.projectId!).where('user_id', '=', by.userId!).executeTakeFirst();
    if (mine !== undefined) throw new AppError('CONFLICT', 'You are already subscribed to this project by email.', { hint: `Remove the subscription first: slipway notifications rm ${mine.id}` });
  }
  const secret = kind === 'webhook' ? newSigningSecret() : undefined;
  const row: EndpointRow = {
    id: newId('ne', 14),
    team_id: scope.teamId,
    project_id: scope.projectId ?? null,
    kind: kind as EndpointKind,
    url_enc: url === undefined ? null : box.encrypt(url),
    url_shown: url === undefined ? null : shownUrl(url, kind as EndpointKind),
    secret_enc: secret === undefined ? null : box.encrypt(secret),
    user_id: kind === 'email' ? by.userId : null,
    events: events.join(','),
    created_by: by.userId,
    created_at: Date.now(),
  };
  await db.insertInto('notification_endpoints').values(row).execute();
  return secret === undefined ? { row } : { row, secret };
}

function checkEvents(raw: unknown, kind: EndpointKind): EventType[] {
  const allowed = kind === 'email' ? EMAIL_EVENT_TYPES : EVENT_TYPES;
  if (raw === undefined) return [...allowed];
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((e) => typeof e !== 'string' || !(allowed as readonly string[]).includes(e))) {
    throw new AppError('VALIDATION', `events must be a non-empty list of ${allowed.join(', ')}.`, {
      hint: `For example: {"events": ["deployment.ready", "deployment.failed"]}${kind === 'email' ? ' (email: only these three)' : ''}`,
    });
  }
  return [...new Set(raw as EventType[])];
}

function checkUrl(raw: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' && raw.length <= 2000 ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    throw new AppError('VALIDATION', 'url must be an http:// or https:// URL (at most 2000 characters, no user:password in it).', {
      hint: 'For example: {"url": "https://hooks.example.com/slipway"}',
    });
  }
  return url.href;
}

/** The URL as the API shows it: a webhook's without its query; a Slack-style URL's path is its secret, so only the host. */
function shownUrl(url: string, kind: EndpointKind): string {
  const u = new URL(url);
  return kind === 'slack' ? `${u.origin}/…` : `${u.origin}${u.pathname}${u.search === '' ? '' : '?…'}`;
}

/** The endpoints a scope's list shows: a project's own and its team's; a team's own. */
export async function listEndpoints(db: Db, scope: Scope): Promise<EndpointRow[]> {
  let q = db.selectFrom('notification_endpoints').selectAll().where('team_id', '=', scope.teamId);
  const projectId = scope.projectId;
  q = projectId === undefined ? q.where('project_id', 'is', null) : q.where((eb) => eb.or([eb('project_id', '=', projectId), eb('project_id', 'is', null)]));
  return q.orderBy('created_at').orderBy('id').execute();
}

/** An endpoint of this scope, or NOTIFICATION_NOT_FOUND (a team's endpoint is changed from the team only). */
export async function findEndpoint(db: Db, scope: Scope, id: string): Promise<EndpointRow> {
  const row = await db.selectFrom('notification_endpoints').selectAll().where('id', '=', id).where('team_id', '=', scope.teamId).executeTakeFirst();
  if (row === undefined || (row.project_id ?? undefined) !== scope.projectId) throw new AppError('NOTIFICATION_NOT_FOUND', `No notification endpoint ${JSON.stringify(id)} here.`);
  return row;
}

export async function removeEndpoint(db: Db, id: string): Promise<void> {
  await db.deleteFrom('notification_endpoints').where('id', '=', id).execute();
}

export async function emailOf(db: Db, userId: string | null): Promise<string | null> {
  if (userId === null) return null;
  return (await db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst())?.email ?? null;
}

export function serializeEndpoint(row: EndpointRow, email: string | null) {
  return {
    id: row.id,
    kind: row.kind,
    scope: row.project_id === null ? 'team' : 'project',
    url: row.url_shown,
    email,
    events: row.events.split(','),
    createdAt: new Date(Number(row.created_at)).toISOString(),
  };
}

/** Deliveries of the scope's endpoints, newest first, each with its attempts. */
export async function listDeliveries(db: Db, scope: Scope, opts: { endpointId?: string; limit: number; after?: readonly (string | number)[] | undefined }) {
  let q = db
    .selectFrom('notification_deliveries as dl')
    .innerJoin('notification_endpoints as ne', 'ne.id', 'dl.endpoint_id')
    .innerJoin('notification_events as ev', 'ev.id', 'dl.event_id')
    .selectAll('dl')
    .select(['ev.type', 'ev.deployment_id', 'ne.kind'])
    .where('ne.team_id', '=', scope.teamId);
  q = scope.projectId === undefined ? q.where('ne.project_id', 'is', null) : q.where('ev.project_id', '=', scope.projectId);
  if (opts.endpointId !== undefined) q = q.where('dl.endpoint_id', '=', opts.endpointId);
  const after = opts.after;
  if (after !== undefined) {
    const [at, id] = [Number(after[0]), String(after[1])];
    q = q.where((eb) => eb.or([eb('dl.created_at', '<', at), eb.and([eb('dl.created_at', '=', at), eb('dl.id', '<', id)])]));
  }
  const rows = await q.orderBy('dl.created_at', 'desc').orderBy('dl.id', 'desc').limit(opts.limit).execute();
  const attempts =
    rows.length === 0
      ? []
      : await db
          .selectFrom('notification_attempts')
          .selectAll()
          .where(
            'delivery_id',
            'in',
            rows.map((r) => r.id),
          )
          .orderBy('attempt')
          .execute();
  return rows.map((r) =>
    serializeDelivery(
      r,
      r.type,
      r.deployment_id,
      attempts.filter((a) => a.delivery_id === r.id),
    ),
  );
}

/** A delivery of the scope, or NOTIFICATION_NOT_FOUND. */
export async function findDelivery(db: Db, scope: Scope, id: string): Promise<DeliveryRow> {
  let q = db
    .selectFrom('notification_deliveries as dl')
    .innerJoin('notification_endpoints as ne', 'ne.id', 'dl.endpoint_id')
    .innerJoin('notification_events as ev', 'ev.id', 'dl.event_id')
    .selectAll('dl')
    .where('dl.id', '=', id)
    .where('ne.team_id', '=', scope.teamId);
  q = scope.projectId === undefined ? q.where('ne.project_id', 'is', null) : q.where('ev.project_id', '=', scope.projectId);
  const row = await q.executeTakeFirst();
  if (row === undefined) throw new AppError('NOTIFICATION_NOT_FOUND', `No delivery ${JSON.stringify(id)} here.`, { hint: 'List them: slipway notifications deliveries' });
  return row;
}

type AttemptRow = { attempt: number; at: number; status: number | null; ok: number; duration_ms: number; response: string | null; error: string | null };

export function serializeDelivery(r: DeliveryRow, type: string, deploymentId: string | null, attempts: AttemptRow[]) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    event: type,
    deploymentId,
    state: r.state,
    attempts: attempts.map((a) => ({
      attempt: Number(a.attempt),
      at: iso(a.at),
      ok: Number(a.ok) === 1,
      status: a.status === null ? null : Number(a.status),
      durationMs: Number(a.duration_ms),
      response: a.response,
      error: a.error,
    })),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
    nextAttemptAt: r.state === 'pending' || r.state === 'retrying' ? iso(r.next_at) : null,
    resendOf: r.resend_of,
    createdAt: iso(r.created_at),
  };
}
