import { startTicker } from '../events.js';
import { randomUUID } from 'node:crypto';
import { AppError, toError } from '../errors/index.js';
import { logger } from '../log/index.js';
import type { SecretBox } from '../secrets.js';
import type { Db, Store } from '../store/index.js';
import { readAccessEntries, readServerLines } from './store.js';

/** What a project's drain looks like through the API: the URL without its secrets. */
export interface DrainView {
  url: string;
  failures: number;
  lastError: string | null;
  createdAt: string;
}

const BATCH = 500;
const LEASE_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;
const log = logger('log-drain');

/** The URL as shown back: scheme, host and path; credentials and query (tokens) masked. */
export function maskDrainUrl(raw: string): string {
  const url = new URL(raw);
  const auth = url.username !== '' || url.password !== '' ? '***@' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}${url.search === '' ? '' : '?***'}`;
}

function checkDrainUrl(raw: unknown): string {
  const example = 'For example: {"url": "https://logs.example.com/ingest?token=..."}';
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2000) throw new AppError('VALIDATION', 'url must be an http(s) URL of at most 2000 characters.', { hint: example });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('VALIDATION', `url is not a URL: ${JSON.stringify(raw.slice(0, 100))}.`, { hint: example });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AppError('VALIDATION', 'url must use http or https.', { hint: example });
  return url.toString();
}

/** Point the project's logs at `url` from now on (what is already stored is not sent). */
export async function setDrain(db: Db, box: SecretBox, projectId: string, rawUrl: unknown): Promise<DrainView> {
  const url = checkDrainUrl(rawUrl);
  const access = await db
    .selectFrom('access_logs')
    .select((eb) => eb.fn.max('id').as('id'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  const server = await db
    .selectFrom('server_logs')
    .select((eb) => eb.fn.max('id').as('id'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  const now = Date.now();
  const row = { url_enc: box.encrypt(url), access_cursor: Number(access?.id ?? 0), server_cursor: Number(server?.id ?? 0), failures: 0, next_attempt_at: 0, last_error: null, created_at: now };
  await db.deleteFrom('log_drains').where('project_id', '=', projectId).execute();
  await db
    .insertInto('log_drains')
    .values({ project_id: projectId, ...row })
    .execute();
  return { url: maskDrainUrl(url), failures: 0, lastError: null, createdAt: new Date(now).toISOString() };
}

export async function getDrain(db: Db, box: SecretBox, projectId: string): Promise<DrainView | undefined> {
  const row = await db.selectFrom('log_drains').selectAll().where('project_id', '=', projectId).executeTakeFirst();
  if (row === undefined) return undefined;
  return { url: maskDrainUrl(box.decrypt(row.url_enc)), failures: Number(row.failures), lastError: row.last_error, createdAt: new Date(Number(row.created_at)).toISOString() };
}

export async function removeDrain(db: Db, projectId: string): Promise<boolean> {
  const result = await db.deleteFrom('log_drains').where('project_id', '=', projectId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface DrainOptions {
  store: Store;
  box: SecretBox;
  /** ms between rounds (default 2000) */
  everyMs?: number;
  /** ms a receiver has to answer (default 10 s) */
  timeoutMs?: number;
  /** ms of the first retry's wait; doubles per failure up to 5 min (default 1000) */
  retryBaseMs?: number;
}

/**
 * Sends each project's new log rows to its drain URL, in batches of up to 500 access entries
 * and 500 server lines: POST JSON `{"project", "access": [...], "server": [...]}`. A batch the
 * receiver does not take with a 2xx is sent again (the same rows) after a growing wait; the
 * cursor moves only on success. Runs in the api role, away from the edge's requests; a lease
 * in the store keeps two api processes from sending the same batch.
 */
export function startLogDrains(opts: DrainOptions): { stop(): Promise<void> } {
  const { store, box } = opts;
  const holder = randomUUID();
  const retryBase = opts.retryBaseMs ?? 1000;

  async function drainOne(projectId: string, name: string, urlEnc: string, accessCursor: number, serverCursor: number, failures: number): Promise<void> {
    const now = Date.now();
    const claimed = await store.db
      .updateTable('log_drains')
      .set({ lease_until: now + LEASE_MS })
      .where('project_id', '=', projectId)
      .where('lease_until', '<', now)
      .where('url_enc', '=', urlEnc)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) return;
    try {
      const access = await readAccessEntries(store.db, projectId, { since: accessCursor, limit: BATCH });
      const server = await readServerLines(store.db, projectId, { since: serverCursor, limit: BATCH });
      if (access.length === 0 && server.length === 0) return;
      const body = JSON.stringify({
        project: name,
        access: access.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        server: server.map((l) => ({ ...l, at: new Date(l.at).toISOString() })),
      });
      let error: string | undefined;
      try {
        const res = await fetch(box.decrypt(urlEnc), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'Slipway-Log-Drain', 'x-slipway-drain-batch': holder },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
        await res.body?.cancel();
        if (!res.ok) error = `the receiver answered ${res.status}`;
      } catch (err) {
        error = toError(err).message;
      }
      if (error === undefined) {
        await store.db
          .updateTable('log_drains')
          .set({ access_cursor: access.at(-1)?.id ?? accessCursor, server_cursor: server.at(-1)?.id ?? serverCursor, failures: 0, next_attempt_at: 0, last_error: null })
          .where('project_id', '=', projectId)
          .where('url_enc', '=', urlEnc)
          .execute();
      } else {
        const wait = Math.min(MAX_BACKOFF_MS, retryBase * 2 ** failures);
        await store.db
          .updateTable('log_drains')
          .set({ failures: failures + 1, next_attempt_at: Date.now() + wait, last_error: error.slice(0, 500) })
          .where('project_id', '=', projectId)
          .where('url_enc', '=', urlEnc)
          .execute();
        if (failures === 0 || failures % 10 === 0) log.warn({ project: name, failures: failures + 1, retryInMs: wait }, `log drain failed: ${error}`);
      }
    } finally {
      await store.db.updateTable('log_drains').set({ lease_until: 0 }).where('project_id', '=', projectId).execute();
    }
  }

  async function round(): Promise<void> {
    const now = Date.now();
    const due = await store.db
      .selectFrom('log_drains')
      .innerJoin('projects', 'projects.id', 'log_drains.project_id')
      .select(['log_drains.project_id as projectId', 'projects.name as name', 'url_enc', 'access_cursor', 'server_cursor', 'failures'])
      .where('next_attempt_at', '<=', now)
      .where('lease_until', '<', now)
      .execute();
    for (const d of due) {
      if (ticker.stopped) return;
      await drainOne(d.projectId, d.name, d.url_enc, Number(d.access_cursor), Number(d.server_cursor), Number(d.failures)).catch((err: unknown) =>
        log.error({ err: toError(err), project: d.name }, 'log drain round failed'),
      );
    }
  }

  const ticker = startTicker({ everyMs: opts.everyMs ?? 2000, tick: round, failed: (err) => log.error({ err: toError(err) }, 'log drain round failed') });
  return { stop: () => ticker.stop() };
}
