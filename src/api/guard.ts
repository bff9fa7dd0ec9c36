import type { FastifyInstance, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';
import { authorize, recordAudit, resolveCaller, type Access, type AuditEntry, type Caller, type Grant } from '../auth/index.js';
import { AppError } from '../errors/index.js';
import { safeEqual } from '../secrets.js';
import type { Db, Store } from '../store/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** what the route needs (see src/auth/access.ts); every route must say */
    access?: Access;
  }
  interface FastifyRequest {
    /** who is calling (undefined on public routes) */
    caller: Caller | undefined;
    /** what the access check found (the project, deployment or team and the caller's role) */
    grant: Grant;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
  /** the route's schema (validation and GET /api/v1/openapi.json), if it declares one */
  schema: FastifySchema | undefined;
}

const routeLists = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route the api registered, with its declaration (the tenant walk test enumerates them). */
export function registeredRoutes(app: FastifyInstance): readonly RouteEntry[] {
  return routeLists.get(app) ?? [];
}

/**
 * Make every route declare its access: a route without `config.access` stops the api from
 * starting, so a new route cannot skip the check by being forgotten. Call before any route.
 */
export function requireAccessDeclarations(app: FastifyInstance): void {
  const list: RouteEntry[] = [];
  routeLists.set(app, list);
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = (route.config as { access?: Access } | undefined)?.access;
    if (access === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access): see src/auth/access.ts`);
    for (const method of [route.method].flat()) list.push({ method, url: route.url, access, schema: route.schema });
  });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The one check of every /api/v1 request: resolve the caller from its bearer token or session
 * cookie, refuse a cookie-authenticated change without the session's CSRF token (both before
 * the body is read), then check the route's declaration (before the handler). Public routes see no caller unless they ask for an optional session.
 */
export function guardRequests(api: FastifyInstance, store: Store, adminToken: string): void {
  api.decorateRequest('caller', undefined);
  api.decorateRequest('grant', null as unknown as Grant);
  api.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config.access;
    if (access === undefined) throw new AppError('UNAUTHORIZED', 'This endpoint needs an API token.');
    req.caller = await callerFor(req, store, adminToken, access);
    if (req.caller?.via === 'session' && !SAFE_METHODS.has(req.method)) checkCsrf(req, req.caller);
  });
  // the resource check runs once the request is read and checked (a malformed query or body is a
  // 400 whoever owns the resource: it tells nothing), right before the handler
  api.addHook('preHandler', async (req) => {
    const access = req.routeOptions.config.access!;
    req.grant = await authorize(store.db, req.caller, access, req.params as Record<string, string>);
  });
}

async function callerFor(req: FastifyRequest, store: Store, adminToken: string, access: Access): Promise<Caller | undefined> {
  const creds = { authorization: req.headers.authorization, cookie: req.headers.cookie };
  if (!('public' in access)) return resolveCaller(store.db, adminToken, creds);
  if (access.session !== 'optional') return undefined;
  // a public route that uses a session when there is one (accepting an invitation as yourself)
  return resolveCaller(store.db, adminToken, creds).catch(() => undefined);
}

function checkCsrf(req: FastifyRequest, caller: Caller): void {
  const given = req.headers['x-csrf-token'];
  const expected = caller.kind === 'deploy' ? undefined : caller.session?.csrf;
  if (typeof given !== 'string' || expected === undefined || !safeEqual(given, expected)) {
    throw new AppError('CSRF', 'This change was sent with the session cookie but without its CSRF token.');
  }
}

/** Record an audit event for the request's caller, in the transaction `db` of the change. */
export function audit(db: Db, req: FastifyRequest, teamId: string | null, entry: AuditEntry): Promise<void> {
  if (req.caller === undefined) throw new Error('audit needs a caller');
  return recordAudit(db, teamId, req.caller, req.ip, entry);
}
