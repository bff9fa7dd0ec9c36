import type { Db } from '../store/index.js';

const HOUR = 3_600_000;

/**
 * The Let's Encrypt limits a Slipway installation can run into (letsencrypt.org/docs/rate-limits,
 * "New Orders per Account": 300 per 3 hours; "Authorization Failures per Identifier per Account":
 * 5 per hour). Counted from acme_events for every CA, which keeps a misconfigured domain from
 * hammering any CA; the CA's own rateLimited answers (with Retry-After) come on top.
 */
export const LIMITS = {
  order: { max: 300, windowMs: 3 * HOUR, what: 'new orders in the last 3 hours', allowed: '300 new orders per account per 3 hours' },
  'failed-validation': { max: 5, windowMs: HOUR, what: 'failed validations in the last hour', allowed: '5 failed validations per hostname per hour' },
} as const;

export interface Postponement {
  until: number;
  reason: string;
}

export async function recordEvent(db: Db, kind: 'order' | 'failed-validation', name: string, now = Date.now()): Promise<void> {
  await db.insertInto('acme_events').values({ kind, name, at: now }).execute();
}

/**
 * Would ordering a certificate for `names` now go over a limit? Then: until when to wait, and
 * why, in words for the domain's status. Events older than the longest window are dropped.
 */
export async function rateLimitWait(db: Db, names: string[], now = Date.now()): Promise<Postponement | undefined> {
  await db
    .deleteFrom('acme_events')
    .where('at', '<', now - LIMITS.order.windowMs)
    .execute();
  const orders = await eventTimes(db, 'order', undefined, now - LIMITS.order.windowMs);
  const overOrders = over('order', orders);
  if (overOrders !== undefined) return overOrders;
  for (const name of names) {
    // a wildcard's authorization is for its base name
    const host = name.replace(/^\*\./, '');
    const failures = await eventTimes(db, 'failed-validation', host, now - LIMITS['failed-validation'].windowMs);
    const overFailures = over('failed-validation', failures, host);
    if (overFailures !== undefined) return overFailures;
  }
  return undefined;
}

async function eventTimes(db: Db, kind: 'order' | 'failed-validation', name: string | undefined, since: number): Promise<number[]> {
  let q = db.selectFrom('acme_events').select('at').where('kind', '=', kind).where('at', '>=', since);
  if (name !== undefined) q = q.where('name', '=', name);
  const rows = await q.orderBy('at', 'asc').execute();
  return rows.map((r) => Number(r.at));
}

/** With `times` in the window (oldest first), one more fits once enough of them have aged out. */
function over(kind: keyof typeof LIMITS, times: number[], host?: string): Postponement | undefined {
  const limit = LIMITS[kind];
  if (times.length < limit.max) return undefined;
  const until = times[times.length - limit.max]! + limit.windowMs;
  return {
    until,
    reason: `Postponed by the CA's rate limit: ${times.length} ${limit.what}${host === undefined ? '' : ` for ${host}`} (Let's Encrypt allows ${limit.allowed}); next attempt at ${new Date(until).toISOString()}.`,
  };
}
