import { AppError } from '../errors/index.js';

/** Items per page when `?limit=` is not given, and the most one page may hold. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/** A page to read: at most `limit` items after the item keyed `after` (undefined: the first page). */
export interface PageRequest {
  limit: number;
  after: readonly (string | number)[] | undefined;
}

/** A page of items and the cursor of the next one (null: this is the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const BAD_CURSOR = () => new AppError('VALIDATION', 'cursor must be the nextCursor of a previous page of this list.', { hint: 'Start without ?cursor=, then pass the nextCursor each page answers.' });

/**
 * Read `?limit=` and `?cursor=`. A cursor is the sort key of the last item shown, as
 * base64url JSON: opaque to clients, and a keyset (not an offset), so items inserted
 * meanwhile neither repeat nor shift a page.
 */
export function pageRequest(query: { limit?: string; cursor?: string } | undefined, keyLength: number): PageRequest {
  const asked = query?.limit === undefined || query.limit === '' ? Number.NaN : Number(query.limit);
  // more than a page may hold is the most it holds; 0 is one (the schema lets digits only through)
  const limit = Number.isFinite(asked) ? Math.min(MAX_LIMIT, Math.max(1, asked)) : DEFAULT_LIMIT;
  const cursor = query?.cursor;
  if (cursor === undefined || cursor === '') return { limit, after: undefined };
  let after: unknown;
  try {
    after = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw BAD_CURSOR();
  }
  if (!Array.isArray(after) || after.length !== keyLength || !after.every((k) => typeof k === 'string' || (typeof k === 'number' && Number.isFinite(k)))) throw BAD_CURSOR();
  return { limit, after: after as (string | number)[] };
}

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * The page from rows read with `limit + 1` (the extra row only says there is a next page).
 * `keyOf` gives the sort key the next page starts after.
 */
export function finishPage<T>(rows: T[], limit: number, keyOf: (row: T) => readonly (string | number)[]): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit && items.length > 0 ? encodeCursor(keyOf(items.at(-1)!)) : null };
}

/**
 * A page of a short list read whole (teams, members, variables), keyed by a unique string. It is
 * sorted here by code unit, not trusted in the database's order: PostgreSQL's collation may order
 * "a-b" and "ab" otherwise, and the cursor compares the way JavaScript does.
 */
export function pageByKey<T>(items: readonly T[], page: PageRequest, keyOf: (item: T) => string): Page<T> {
  const after = page.after?.[0];
  const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((item) => keyOf(item) > String(after));
  return finishPage(rest.slice(0, page.limit + 1), page.limit, (item) => [keyOf(item)]);
}

/** the querystring every list takes */
export type PageQuery = { limit?: string; cursor?: string };
