import type { Db } from '../store/index.js';

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
const MAX_PATH = 2048;
const MAX_TEXT = 4096;

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/** Append access entries of one project, oldest first. */
export async function insertAccessEntries(db: Db, projectId: string, entries: readonly AccessEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += SLICE) {
    const rows = entries.slice(i, i + SLICE).map((e) => ({
      project_id: projectId,
      deployment_id: e.deploymentId,
      at: e.at,
      method: cut(e.method, 32),
      host: cut(e.host, 255),
      path: cut(e.path, MAX_PATH),
      status: e.status,
      bytes: e.bytes,
      duration_ms: Math.round(e.durationMs * 1000) / 1000,
      client_ip: cut(e.clientIp, 64),
    }));
    await db.insertInto('access_logs').values(rows).execute();
  }
}

/** Append server output lines of one project. */
export async function insertServerLines(db: Db, projectId: string, lines: readonly ServerLine[]): Promise<void> {
  for (let i = 0; i < lines.length; i += SLICE) {
    const rows = lines.slice(i, i + SLICE).map((l) => ({ project_id: projectId, deployment_id: l.deploymentId, at: l.at, text: cut(l.text, MAX_TEXT) }));
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
