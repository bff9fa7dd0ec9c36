import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { newId } from '../ids.js';
import { databaseNow, type Db, type Store } from '../store/index.js';
import type { NotificationDeliveryTable, NotificationEndpointTable, NotificationEventTable } from '../store/schema-notify.js';

export type EventRow = NotificationEventTable;
export type EndpointRow = NotificationEndpointTable;
export type DeliveryRow = NotificationDeliveryTable;

/** A delivery a dispatcher holds, with its event and endpoint. */
export interface ClaimedDelivery {
  delivery: DeliveryRow;
  event: EventRow;
  endpoint: EndpointRow;
  /** fences the writes after the claim (see claimDue) */
  token: string;
}

/**
 * Make the deliveries of events not fanned out yet: one per endpoint of the event's project or
 * team that asked for its type. Reading the batch, inserting its deliveries and marking it
 * fanned out are one transaction (Store.tx: one writer at a time on both backends), so a second
 * dispatcher finds the batch marked and an event's deliveries exist exactly once however many
 * run. Returns how many events it handled.
 */
export async function fanOut(store: Store, limit = 100): Promise<number> {
  // a plain read first: most looks find nothing, and need not queue for the one writer's lock
  const waiting = await store.db.selectFrom('notification_events').select('id').where('fanned_out', '=', 0).limit(1).executeTakeFirst();
  if (waiting === undefined) return 0;
  return store.tx(async (db) => {
    const events = await db.selectFrom('notification_events').selectAll().where('fanned_out', '=', 0).orderBy('created_at').orderBy('id').limit(limit).execute();
    if (events.length === 0) return 0;
    const now = Date.now();
    const teams = [...new Set(events.map((e) => e.team_id).filter((t): t is string => t !== null))];
    const endpoints = teams.length === 0 ? [] : await db.selectFrom('notification_endpoints').selectAll().where('team_id', 'in', teams).execute();
    for (const event of events) {
      for (const endpoint of endpoints) {
        if (!wants(endpoint, event)) continue;
        await db
          .insertInto('notification_deliveries')
          .values({ id: newId('dlv', 16), event_id: event.id, endpoint_id: endpoint.id, state: 'pending', attempts: 0, next_at: now, created_at: now, updated_at: now })
          .execute();
      }
    }
    await db
      .updateTable('notification_events')
      .set({ fanned_out: 1 })
      .where(
        'id',
        'in',
        events.map((e) => e.id),
      )
      .execute();
    return events.length;
  });
}

function wants(endpoint: EndpointRow, event: EventRow): boolean {
  if (endpoint.team_id !== event.team_id) return false;
  if (endpoint.project_id !== null && endpoint.project_id !== event.project_id) return false;
  return endpoint.events.split(',').includes(event.type);
}

/**
 * Take up to `limit` deliveries that are due, each for `leaseMs`. One statement: on PostgreSQL
 * the subquery's FOR UPDATE SKIP LOCKED lets dispatchers on several machines claim at once,
 * each getting other rows; a row whose lease ran out (its dispatcher died mid-send) is due
 * again. Times are the database's clock (PostgreSQL's, on several machines), so clock skew
 * cannot hand one delivery to two dispatchers.
 */
export async function claimDue(store: Store, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const now = await databaseNow(store);
  const token = randomBytes(8).toString('hex');
  const lock = store.dialect === 'postgres' ? sql`for update skip locked` : sql``;
  const { rows } = await sql<DeliveryRow>`
    update notification_deliveries
       set locked_until = ${now + leaseMs}, locked_by = ${token}, attempts = attempts + 1, updated_at = ${now}
     where id in (select id from notification_deliveries
                   where state in ('pending', 'retrying') and next_at <= ${now}
                     and (locked_until is null or locked_until < ${now})
                   order by next_at, id
                   limit ${limit} ${lock})
    returning *`.execute(store.db);
  if (rows.length === 0) return [];
  const events = await store.db
    .selectFrom('notification_events')
    .selectAll()
    .where('id', 'in', [...new Set(rows.map((r) => r.event_id))])
    .execute();
  const endpoints = await store.db
    .selectFrom('notification_endpoints')
    .selectAll()
    .where('id', 'in', [...new Set(rows.map((r) => r.endpoint_id))])
    .execute();
  const out: ClaimedDelivery[] = [];
  for (const row of rows) {
    const event = events.find((e) => e.id === row.event_id);
    const endpoint = endpoints.find((e) => e.id === row.endpoint_id);
    // removed between the claim and the reads: the cascade takes the delivery too
    if (event === undefined || endpoint === undefined) continue;
    out.push({ delivery: { ...row, attempts: Number(row.attempts) }, event, endpoint, token });
  }
  return out;
}

export interface AttemptResult {
  ok: boolean;
  /** HTTP status (undefined: no answer, or not HTTP) */
  status?: number;
  durationMs: number;
  response?: string;
  error?: string;
}

/**
 * Record one attempt and the delivery's next state: delivered, retrying at `retryAt`, or
 * failed when `retryAt` is undefined (it gave up). False: the lease was lost (another
 * dispatcher has it now), nothing written.
 */
export async function recordAttempt(store: Store, claimed: ClaimedDelivery, result: AttemptResult, retryAt: number | undefined): Promise<boolean> {
  const { delivery, token } = claimed;
  return store.tx(async (db) => {
    const now = Date.now();
    const state = result.ok ? 'delivered' : retryAt === undefined ? 'failed' : 'retrying';
    const res = await db
      .updateTable('notification_deliveries')
      .set({
        state,
        next_at: retryAt ?? now,
        locked_until: null,
        locked_by: null,
        last_status: result.status ?? null,
        last_error: result.ok ? null : (result.error ?? `HTTP ${result.status}`).slice(0, 1000),
        updated_at: now,
      })
      .where('id', '=', delivery.id)
      .where('locked_by', '=', token)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    await db
      .insertInto('notification_attempts')
      .values({
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        at: now,
        status: result.status ?? null,
        ok: result.ok ? 1 : 0,
        duration_ms: Math.round(result.durationMs),
        response: result.response?.slice(0, 1000) ?? null,
        error: result.error?.slice(0, 1000) ?? null,
      })
      .execute();
    return true;
  });
}

/** Send a delivery's event to its endpoint again, as a new delivery (the old one's record stays). */
export async function resendDelivery(db: Db, delivery: DeliveryRow): Promise<DeliveryRow> {
  const now = Date.now();
  const row: DeliveryRow = {
    id: newId('dlv', 16),
    event_id: delivery.event_id,
    endpoint_id: delivery.endpoint_id,
    state: 'pending',
    attempts: 0,
    next_at: now,
    locked_until: null,
    locked_by: null,
    last_status: null,
    last_error: null,
    resend_of: delivery.id,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('notification_deliveries').values(row).execute();
  return row;
}

/** Events older than `maxAgeMs` go with their deliveries and attempts: the outbox does not grow forever. */
export async function pruneEvents(db: Db, maxAgeMs: number): Promise<void> {
  await db
    .deleteFrom('notification_events')
    .where('created_at', '<', Date.now() - maxAgeMs)
    .where('fanned_out', '=', 1)
    .execute();
}
