import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { loadConfig } from '../../src/config/index.js';
import { Events } from '../../src/events.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import { Store } from '../../src/store/index.js';
import { type Backend, postgresBackend } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';

export const ADMIN = 'test-admin-token-0123456789';

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface ApiFixture {
  app: FastifyInstance;
  store: Store;
  /** the blob store the api writes uploads to */
  blobs: LocalBlobStore;
  box: SecretBox;
  /** call the api in-process; `auth`: a bearer token, or a session {cookie, csrf?} */
  call(method: string, url: string, opts?: { auth?: string | Session; body?: unknown; headers?: Record<string, string>; ip?: string }): Promise<Answer>;
  /** log in with email + password; the session's cookie and CSRF token */
  login(email: string, password: string): Promise<Session>;
  /** an account via the admin (optionally in a team with a role) and a personal token for it */
  person(email: string, team?: string, role?: string): Promise<{ id: string; token: string; password: string }>;
  close(): Promise<void>;
}

export interface Session {
  cookie: string;
  csrf?: string;
}

/**
 * The api as `slipway up` builds it, over a real SQLite store in a temp dir (or a fresh store of
 * `backend`: PostgreSQL), called with app.inject.
 */
export async function startApi(opts: { publicUrl?: string; backend?: Backend; env?: NodeJS.ProcessEnv } = {}): Promise<ApiFixture> {
  const dir = await tempDir('slipway-auth-');
  // SLIPWAY_TEST_STORE=postgres runs every api test on PostgreSQL
  const backend = opts.backend ?? (process.env.SLIPWAY_TEST_STORE === 'postgres' ? postgresBackend : undefined);
  const opened = backend === undefined ? undefined : await backend.open();
  const store = opened?.store ?? (await Store.openSqlite(join(dir.path, 'slipway.db')));
  const box = new SecretBox(randomBytes(32));
  const blobs = new LocalBlobStore(join(dir.path, 'blobs'));
  const config = loadConfig({ 'data-dir': dir.path, port: '3999', ...(opts.publicUrl === undefined ? {} : { 'public-url': opts.publicUrl }) }, opts.env ?? {});
  const app = buildApi({
    config,
    store,
    queue: new Queue(store, { leaseMs: 30_000 }),
    blobs,
    box,
    events: new Events(),
    adminToken: ADMIN,
    health: async () => ({ api: 'ok' }),
  });
  await app.ready();

  const call: ApiFixture['call'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (typeof o.auth === 'string') headers.authorization = `Bearer ${o.auth}`;
    else if (o.auth !== undefined) {
      headers.cookie = o.auth.cookie;
      if (o.auth.csrf !== undefined) headers['x-csrf-token'] = o.auth.csrf;
    }
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(o.body === undefined ? {} : { payload: JSON.stringify(o.body) }),
      remoteAddress: o.ip ?? '127.0.0.1',
    });
    // JSON, except the dashboard's files (text as sent)
    const json = String(res.headers['content-type'] ?? '').includes('json');
    return { status: res.statusCode, body: res.body === '' ? undefined : json ? JSON.parse(res.body) : res.body, headers: res.headers as Answer['headers'] };
  };

  const login: ApiFixture['login'] = async (email, password) => {
    const res = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
    return { cookie: sessionCookieOf(res), csrf: res.body.csrfToken };
  };

  const person: ApiFixture['person'] = async (email, team, role) => {
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const made = await call('POST', '/api/v1/users', { auth: ADMIN, body: { email, password, ...(team === undefined ? {} : { team, role }) } });
    if (made.status !== 201) throw new Error(`user ${email}: ${made.status} ${JSON.stringify(made.body)}`);
    const session = await login(email, password);
    const token = await call('POST', '/api/v1/tokens', { auth: session, body: { name: 'tests' } });
    if (token.status !== 201) throw new Error(`token ${email}: ${token.status} ${JSON.stringify(token.body)}`);
    // the session was only to make the token: end it, so the person holds just the token
    await call('POST', '/api/v1/auth/logout', { auth: session });
    return { id: made.body.id, token: token.body.token, password };
  };

  return {
    app,
    store,
    blobs,
    box,
    call,
    login,
    person,
    async close() {
      await app.close();
      if (opened === undefined) await store.close();
      else await opened.cleanup();
      await dir.cleanup();
    },
  };
}

/** `slipway_session=<value>` from a login answer's Set-Cookie. */
export function sessionCookieOf(res: Answer): string {
  const raw = [res.headers['set-cookie'] ?? []].flat()[0] ?? '';
  return raw.split(';')[0]!;
}

/** Every table's rows, sorted, as one string: the state the tenant walk compares before and after a call. */
export async function dumpDatabase(store: Store, ignore: { tables?: string[]; columns?: string[] } = {}): Promise<string> {
  const tables = (await store.db.introspection.getTables())
    .map((t) => t.name)
    .filter((n) => !n.startsWith('kysely_') && !(ignore.tables ?? []).includes(n))
    .sort();
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    const rows = await store.db
      .selectFrom(table as 'meta')
      .selectAll()
      .execute();
    out[table] = rows
      .map((row) => {
        const copy: Record<string, unknown> = { ...row };
        for (const column of ignore.columns ?? []) {
          const [t, c] = column.split('.');
          if (t === table) delete copy[c!];
        }
        return JSON.stringify(copy);
      })
      .sort();
  }
  return JSON.stringify(out, null, 1);
}
