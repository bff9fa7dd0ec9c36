import type { Generated } from 'kysely';

/** One request the edge answered for a project's deployment (migration 0020). */
export interface AccessLogTable {
  id: Generated<number>;
  project_id: string;
  deployment_id: string;
  /** ms since the epoch, when the request arrived */
  at: number;
  method: string;
  host: string;
  /** path and query as requested */
  path: string;
  status: number;
  bytes: number;
  duration_ms: number;
  client_ip: string;
}

/** One line an SSR server printed (stdout or stderr, masked), migration 0020. */
export interface ServerLogTable {
  id: Generated<number>;
  project_id: string;
  deployment_id: string;
  at: number;
  text: string;
}

/** Where a project's logs go in batches (migration 0020). */
export interface LogDrainTable {
  project_id: string;
  url_enc: string;
  access_cursor: number;
  server_cursor: number;
  lease_until: Generated<number>;
  failures: Generated<number>;
  next_attempt_at: Generated<number>;
  last_error: string | null;
  created_at: number;
}
