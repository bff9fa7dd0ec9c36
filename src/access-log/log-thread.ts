/**
 * The access log's SQLite writer thread (see ./offload.ts): it owns its own connection to the
 * store's file (WAL lets it write beside the process's other connection, busy_timeout queues
 * the two) and its statements, prepared once. Each message is one batch: the rows of every
 * project in one transaction, then the trims the writer asked for; the answer names the
 * projects whose rows could not go in (deleted since their deployment was looked up).
 */
import Sqlite from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { cut, LIMITS, unpackAccess, type AccessColumns } from './columns.js';
import type { ServerLine } from './store.js';

export interface LogBatch {
  id: number;
  access: AccessColumns[];
  server: { projectId: string; lines: ServerLine[] }[];
  /** after the rows: keep the newest `keep` rows of these projects */
  trims: { table: 'access_logs' | 'server_logs'; projectId: string }[];
  keep: number;
}

export interface LogBatchResult {
  id: number;
  /** projects whose rows were not stored */
  failed: string[];
  error?: string;
}

const port = parentPort;
if (port === null) throw new Error('log-thread.js runs as a worker thread');
const db = new Sqlite((workerData as { file: string }).file);
db.pragma('busy_timeout = 10000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');

const insertAccess = db.prepare(
  'insert into "access_logs" ("project_id", "deployment_id", "at", "method", "host", "path", "status", "bytes", "duration_ms", "client_ip") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
);
const insertServer = db.prepare('insert into "server_logs" ("project_id", "deployment_id", "at", "text") values (?, ?, ?, ?)');
const boundary = {
  access_logs: db.prepare('select "id" from "access_logs" where "project_id" = ? order by "id" desc limit 1 offset ?').pluck(),
  server_logs: db.prepare('select "id" from "server_logs" where "project_id" = ? order by "id" desc limit 1 offset ?').pluck(),
};
const remove = {
  access_logs: db.prepare('delete from "access_logs" where "project_id" = ? and "id" <= ?'),
  server_logs: db.prepare('delete from "server_logs" where "project_id" = ? and "id" <= ?'),
};

function writeAccess(c: AccessColumns): void {
  for (const e of unpackAccess(c)) {
    insertAccess.run(c.projectId, e.deploymentId, e.at, e.method, e.host, e.path, e.status, e.bytes, Math.round(e.durationMs * 1000) / 1000, e.clientIp);
  }
}

function writeServer(projectId: string, lines: readonly ServerLine[]): void {
  for (const l of lines) insertServer.run(projectId, l.deploymentId, l.at, cut(l.text, LIMITS.text));
}

const writeAll = db.transaction((batch: LogBatch) => {
  for (const c of batch.access) writeAccess(c);
  for (const s of batch.server) writeServer(s.projectId, s.lines);
});
const writeOneAccess = db.transaction(writeAccess);
const writeOneServer = db.transaction(writeServer);

function write(batch: LogBatch): string[] {
  const failed = new Set<string>();
  try {
    // BEGIN IMMEDIATE, as Store.tx: take the write lock up front, wait on busy_timeout
    writeAll.immediate(batch);
  } catch {
    // one project deleted since its deployment was looked up fails the whole transaction: the others go in one by one
    for (const c of batch.access) {
      try {
        writeOneAccess.immediate(c);
      } catch {
        failed.add(c.projectId);
      }
    }
    for (const s of batch.server) {
      try {
        writeOneServer.immediate(s.projectId, s.lines);
      } catch {
        failed.add(s.projectId);
      }
    }
  }
  for (const t of batch.trims) {
    const id = boundary[t.table].get(t.projectId, batch.keep) as number | bigint | undefined;
    if (id !== undefined) remove[t.table].run(t.projectId, id);
  }
  return [...failed];
}

port.on('message', (message: LogBatch | 'close') => {
  if (message === 'close') {
    db.close();
    port.close();
    return;
  }
  let result: LogBatchResult;
  try {
    result = { id: message.id, failed: write(message) };
  } catch (error) {
    result = { id: message.id, failed: [], error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(result);
});
