import { CompiledQuery } from 'kysely';
import type { Db } from '../store/index.js';
import { cut, LIMITS } from './columns.js';

/** One request the edge answered, as the access log keeps it. */
export interface AccessEntry {
  /** ms since the epoch, when the request arrived */
  at: number;
  method: string;
  host: string;
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  deploymentId: string;
  clientIp: string;
}

export interface StoredAccessEntry extends AccessEntry {
  /** the cursor: entries after it come with ?since=<id> */
  id: number;
}

export interface ServerLine {
  at: number;
  deploymentId: string;
  text: string;
}

export interface StoredServerLine extends ServerLine {
  id: number;
}

/** Rows kept per project by default (each of access and server logs); older ones are trimmed. */
export const DEFAULT_KEEP_PER_PROJECT = 10_000;
/** SQLite caps bound parameters per statement (32766 since 3.32): 10 columns x 500 rows stays well below */
const SLICE = 500;

const ACCESS_COLUMNS = ['project_id', 'deployment_id', 'at', 'method', 'host', 'path', 'status', 'bytes', 'duration_ms', 'client_ip'] as const;
/** the statement for a whole slice, per placeholder style: built once, it is the same every batch */
const fullSliceSql = new Map<boolean, string>();

/** `insert into access_logs ... values (...), ...` for `rows` rows, with `$n` (PostgreSQL) or `?` (SQLite) placeholders. */
function accessInsertSql(numbered: boolean, rows: number): string {
  if (rows === SLICE) {
    const known = fullSliceSql.get(numbered);
    if (known !== undefined) return known;
  }
  const groups: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const marks: string[] = [];
    for (let c = 0; c < ACCESS_COLUMNS.length; c++) marks.push(numbered ? `$${++n}` : '?');
    groups.push(`(${marks.join(', ')})`);
  }
  const text = `insert into "access_logs" (${ACCESS_COLUMNS.map((c) => `"${c}"`).join(', ')}) values ${groups.join(', ')}`;
  if (rows === SLICE) fullSliceSql.set(numbered, text);
  return text;
}

/**
 * Append access entries of one project, oldest first. The statement is written here rather
 * than built with Kysely's insertInto().values(): compiling 5,000 value nodes cost about as
 * much as SQLite's own work for the rows, every batch, on the edge's event loop.
 */
export async function insertAccessEntries(db: Db, projectId: string, entries: readonly AccessEntry[]): Promise<void> {
  if (entries.length === 0) return;
  // the dialect's placeholders, as its own compiler writes them
  const numbered = db.selectFrom('access_logs').select('id').where('id', '=', 0).compile().sql.includes('$1');
  for (let i = 0; i < entries.length; i += SLICE) {
    const end = Math.min(entries.length, i + SLICE);
    const params: unknown[] = new Array((end - i) * ACCESS_COLUMNS.length);
    let p = 0;
    for (let j = i; j < end; j++) {
      const e = entries[j]!;
      params[p++] = projectId;
      params[p++] = e.deploymentId;
      params[p++] = e.at;
      params[p++] = cut(e.method, LIMITS.method);
      params[p++] = cut(e.host, LIMITS.host);
      params[p++] = cut(e.path, LIMITS.path);
      params[p++] = e.status;
      params[p++] = e.bytes;
      params[p++] = Math.round(e.durationMs * 1000) / 1000;
      params[p++] = cut(e.clientIp, LIMITS.clientIp);
    }
    await db.executeQuery(CompiledQuery.raw(accessInsertSql(numbered, end - i), params));
  }
}

/** Append server output lines of one project. */
export async function insertServerLines(db: Db, projectId: string, lines: readonly ServerLine[]): Promise<void> {
  for (let i = 0; i < lines.length; i += SLICE) {
    const rows = lines.slice(i, i + SLICE).map((l) => ({ project_id: projectId, deployment_id: l.deploymentId, at: l.at, text: cut(l.text, LIMITS.text) }));
    await db.insertInto('server_logs').values(rows).execute();
  }
}

/** Entries of a project with an id above `since`, oldest first. */
export async function readAccessEntries(db: Db, projectId: string, opts: { since: number; limit: number; deploymentId?: string | undefined }): Promise<StoredAccessEntry[]> {
  let q = db.selectFrom('access_logs').selectAll().where('project_id', '=', projectId).where('id', '>', opts.since);
  if (opts.deploymentId !== undefined) q = q.where('deployment_id', '=', opts.deploymentId);
  const rows = await q.orderBy('id').limit(opts.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    method: r.method,
    host: r.host,
    path: r.path,
    status: Number(r.status),
    bytes: Number(r.bytes),
    durationMs: Number(r.duration_ms),
    deploymentId: r.deployment_id,
    clientIp: r.client_ip,
  }));
}

/** Server output lines of a project (or one of its deployments) with an id above `since`, oldest first. */
export async function readServerLines(db: Db, projectId: string, opts: { since: number; limit: number; deploymentId?: string | undefined }): Promise<StoredServerLine[]> {
  let q = db.selectFrom('server_logs').selectAll().where('project_id', '=', projectId).where('id', '>', opts.since);
  if (opts.deploymentId !== undefined) q = q.where('deployment_id', '=', opts.deploymentId);
  const rows = await q.orderBy('id').limit(opts.limit).execute();
  return rows.map((r) => ({ id: Number(r.id), at: Number(r.at), deploymentId: r.deployment_id, text: r.text }));
}

/**
 * Keep the newest `keep` rows of the project in `table`, delete the rest. One indexed read
 * finds the boundary, so trimming after every batch is cheap.
 */
export async function trimProjectLogs(db: Db, table: 'access_logs' | 'server_logs', projectId: string, keep: number): Promise<number> {
  const boundary = await db.selectFrom(table).select('id').where('project_id', '=', projectId).orderBy('id', 'desc').offset(keep).limit(1).executeTakeFirst();
  if (boundary === undefined) return 0;
  const result = await db.deleteFrom(table).where('project_id', '=', projectId).where('id', '<=', Number(boundary.id)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The project (id and name) each deployment belongs to; ids not found are left out. */
export async function projectsOfDeployments(db: Db, deploymentIds: readonly string[]): Promise<Map<string, { id: string; name: string }>> {
  const out = new Map<string, { id: string; name: string }>();
  for (let i = 0; i < deploymentIds.length; i += SLICE) {
    const rows = await db
      .selectFrom('deployments')
      .innerJoin('projects', 'projects.id', 'deployments.project_id')
      .select(['deployments.id as id', 'projects.id as projectId', 'projects.name as name'])
      .where('deployments.id', 'in', deploymentIds.slice(i, i + SLICE))
      .execute();
    for (const r of rows) out.set(r.id, { id: r.projectId, name: r.name });
  }
  return out;
}
