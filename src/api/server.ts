import { checkStore, readiness, type Readiness } from '../health/index.js';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { BlobStore } from '../blobs/index.js';
import type { Config } from '../config/index.js';
import { AppError, toError } from '../errors/index.js';
import type { Events } from '../events.js';
import type { Queue } from '../queue/index.js';
import type { SecretBox } from '../secrets.js';
import type { Store } from '../store/index.js';
import { compressJson } from './compression.js';
import { registerDashboard } from './dashboard.js';
import { guardRequests, registeredRoutes, requireAccessDeclarations } from './guard.js';
import { honourIdempotencyKeys } from './idempotency.js';
import { openApiRoutes } from './routes/openapi.js';
import { systemSchemas } from './schemas/resources.js';
import { AJV_OPTIONS, validationError } from './validation.js';
import { accountRoutes } from './routes/accounts.js';
import { approvalRoutes } from './routes/approvals.js';
import { awsRoutes } from './routes/aws.js';
import { environmentRoutes } from './routes/environments.js';
import { authRoutes } from './routes/auth.js';
import { invitationRoutes } from './routes/invitations.js';
import { tokenRoutes } from './routes/tokens.js';
import { deploymentRoutes } from './routes/deployments.js';
import { domainRoutes } from './routes/domains.js';
import { envRoutes } from './routes/env.js';
import { gitHostRoutes } from './routes/git-host.js';
import { eventRoutes } from './routes/events.js';
import { hookRoutes } from './routes/hooks.js';
import { notificationRoutes } from './routes/notifications.js';
import { prebuiltRoutes } from './routes/prebuilt.js';
import { projectRoutes } from './routes/projects.js';
import { retentionRoutes } from './routes/retention.js';
import { logRoutes, metricsRoute } from './routes/logs-access.js';
import { logger } from '../log/index.js';

const apiLog = logger('api');

export interface ApiDeps {
  config: Config;
  store: Store;
  queue: Queue;
  blobs: BlobStore;
  box: SecretBox;
  events: Events;
  adminToken: string;
  /** GET /metrics: the token it needs (undefined: metrics off) and the Prometheus text */
  metrics?: { token: string | undefined; text: () => Promise<string> };
  /** per-role health for GET /healthz */
  health: () => Promise<Record<string, unknown>>;
  /** GET /readyz: the checks of every role this process runs (default: the store answers) */
  ready?: () => Promise<Readiness>;
}

const API_BODY_LIMIT = 1024 * 1024;

/**
 * The HTTP API: REST under /api/v1 (bearer token or session cookie), git host webhooks under /hooks, /healthz.
 * This is the only layer that turns errors into HTTP: every error body is
 * `{"error":{"code","message","hint"?}}`; unknown errors become a 500 that leaks nothing.
 */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: API_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: AJV_OPTIONS,
    // errors the router meets before any route (a URL that does not decode, e.g. /%E0%A4%A) get our shape too
    frameworkErrors: (raw, _req, reply: FastifyReply) => {
      const err = normalise(raw);
      void reply.code(err.status).header('cache-control', 'no-store').send({ error: err.toJSON() });
    },
  });

  // The API speaks JSON only: a text/plain body is a 415, not a string handed to a route.
  app.removeContentTypeParser('text/plain');
  // Parse JSON ourselves so a bad body gets our error shape, and an empty body is "no body".
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(new AppError('INVALID_JSON', 'The request body is not valid JSON.'), undefined);
    }
  });

  app.setErrorHandler((raw: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) => {
    // a request the route's schema refused: VALIDATION naming the field, with the route's example
    const err =
      !(raw instanceof AppError) && raw.validation !== undefined
        ? validationError(raw.validation, raw.validationContext ?? 'body', req.routeOptions.schema as Record<string, unknown>)
        : normalise(raw);
    if (err.status >= 500) apiLog.error({ err: raw, method: req.method, url: req.url }, 'request failed');
    if (err.code === 'PAYLOAD_TOO_LARGE') {
      // Fastify asks to close the connection, but a client still sending its body would then meet
      // a reset and never read the 413: take the rest of the body and keep the connection
      void reply.removeHeader('connection');
      discardBody(req.raw);
    }
    void reply.code(err.status).header('cache-control', 'no-store').send({ error: err.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    const err = new AppError('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}.`);
    void reply.code(404).send({ error: err.toJSON() });
  });

  // every route declares what it needs (src/auth/access.ts); one without a declaration stops the start
  requireAccessDeclarations(app);
  // no body is an empty object to a route's body schema (objectBody reads both the same way)
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.routeOptions.schema?.body !== undefined) req.body = {};
  });
  app.get('/healthz', { schema: systemSchemas.health, config: { access: { public: true } } }, async () => ({ status: 'ok', roles: await deps.health() }));
  app.get('/readyz', { schema: systemSchemas.ready, config: { access: { public: true } } }, async (_req, reply) => {
    const r = deps.ready === undefined ? readiness({ store: await checkStore(deps.store) }) : await deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ok' : 'not ready', checks: r.checks });
  });

  void app.register(
    async (api) => {
      // the one authentication and authorization check of every /api/v1 request (see guard.ts)
      guardRequests(api, deps.store, deps.adminToken);
      honourIdempotencyKeys(api, deps.store);
      // after the idempotency hooks: they keep the answer as it was before compression
      compressJson(api);
      await api.register(openApiRoutes(deps.config, () => registeredRoutes(app)));
      await api.register(authRoutes(deps));
      await api.register(accountRoutes(deps));
      await api.register(tokenRoutes(deps));
      await api.register(invitationRoutes(deps));
      await api.register(projectRoutes(deps));
      await api.register(deploymentRoutes(deps));
      await api.register(envRoutes(deps));
      await api.register(environmentRoutes(deps));
      await api.register(awsRoutes(deps));
      await api.register(approvalRoutes(deps));
      await api.register(domainRoutes(deps));
      await api.register(prebuiltRoutes(deps));
      await api.register(eventRoutes(deps));
      await api.register(gitHostRoutes(deps));
      await api.register(notificationRoutes(deps));
      await api.register(retentionRoutes(deps));
      await api.register(logRoutes(deps));
    },
    { prefix: '/api/v1' },
  );
  void app.register(hookRoutes(deps), { prefix: '/hooks' });
  void app.register(metricsRoute(deps));
  registerDashboard(app);
  return app;
}

/** the most of an oversized body read (and dropped) so its sender gets the 413; past it, or after DISCARD_MS, the connection is cut */
const DISCARD_LIMIT = 64 * 1024 * 1024;
const DISCARD_MS = 10_000;

function discardBody(req: IncomingMessage): void {
  let seen = 0;
  const cut = setTimeout(() => req.socket.destroy(), DISCARD_MS);
  cut.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DISCARD_LIMIT) req.socket.destroy();
  });
  req.once('end', () => clearTimeout(cut));
  req.once('close', () => clearTimeout(cut));
  req.resume();
}

/** Map framework and unknown errors onto the catalogue. */
function normalise(raw: unknown): AppError {
  if (raw instanceof AppError) return raw;
  const err = toError(raw) as FastifyError;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'The request body is larger than this endpoint accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'This endpoint takes JSON.');
    case 'FST_ERR_BAD_URL':
      return new AppError('BAD_REQUEST', 'The URL is not valid: a %-escape in its path does not decode.', { hint: 'Percent-encode the path as UTF-8 (e.g. "%20" for a space).' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('BAD_REQUEST', err.message);
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new AppError('BAD_REQUEST', err.message);
      return new AppError('INTERNAL', 'Something went wrong on our side; the error is in the server log.', { cause: err });
  }
}

/** Read `{...}` bodies as a plain object (no body -> {}); anything else is a 400. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new AppError('BAD_REQUEST', 'The request body must be a JSON object.');
  return body as Record<string, unknown>;
}
