import type { Db } from '../store/index.js';

/**
 * Login rate limit: a sliding window over the attempts kept in the store (table login_attempts),
 * not in memory, so every api process of an installation counts the same attempts and a restart
 * does not reset them. Two keys per attempt:
 *   - the account (the lower-cased email, whether or not it exists): failed attempts only, so
 *     guessing one person's password is slow while they can still log in after the window;
 *   - the address: every attempt, which also bounds the KDF work one address can cause.
 */
export const LOGIN_LIMITS = {
  account: { max: 10, windowMs: 15 * 60_000 },
  address: { max: 30, windowMs: 10 * 60_000 },
};

export interface LimitVerdict {
  limited: boolean;
  /** seconds until one more attempt is allowed */
  retryAfterSeconds: number;
}

/** Would one more attempt go over either window? (Read-only; record with `recordAttempt`.) */
export async function checkLoginLimit(db: Db, email: string, ip: string, now = Date.now()): Promise<LimitVerdict> {
  const verdicts = await Promise.all([window(db, `account:${email}`, LOGIN_LIMITS.account, now), window(db, `address:${ip}`, LOGIN_LIMITS.address, now)]);
  const limited = verdicts.filter((v) => v.limited);
  return limited.length === 0 ? { limited: false, retryAfterSeconds: 0 } : { limited: true, retryAfterSeconds: Math.max(...limited.map((v) => v.retryAfterSeconds)) };
}

async function window(db: Db, key: string, limit: { max: number; windowMs: number }, now: number): Promise<LimitVerdict> {
  // the newest `max` attempts in the window: when there are `max` of them, the oldest of those
  // leaving the window is when the next attempt is allowed
  const rows = await db
    .selectFrom('login_attempts')
    .select('at')
    .where('key', '=', key)
    .where('at', '>', now - limit.windowMs)
    .orderBy('at', 'desc')
    .limit(limit.max)
    .execute();
  if (rows.length < limit.max) return { limited: false, retryAfterSeconds: 0 };
  const oldest = Number(rows.at(-1)!.at);
  return { limited: true, retryAfterSeconds: Math.max(1, Math.ceil((oldest + limit.windowMs - now) / 1000)) };
}

/** Count an attempt: the address always, the account when it failed. Old rows are pruned as it goes. */
export async function recordAttempt(db: Db, email: string, ip: string, failed: boolean, now = Date.now()): Promise<void> {
  const rows = [{ key: `address:${ip}`, at: now }];
  if (failed) rows.push({ key: `account:${email}`, at: now });
  await db.insertInto('login_attempts').values(rows).execute();
  const longest = Math.max(LOGIN_LIMITS.account.windowMs, LOGIN_LIMITS.address.windowMs);
  await db
    .deleteFrom('login_attempts')
    .where('at', '<=', now - longest)
    .execute();
}

/** A successful login forgets the account's failures (the address keeps counting). */
export async function clearAccountFailures(db: Db, email: string): Promise<void> {
  await db.deleteFrom('login_attempts').where('key', '=', `account:${email}`).execute();
}
