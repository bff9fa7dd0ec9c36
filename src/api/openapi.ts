import type { Access } from '../auth/index.js';
import { SESSION_COOKIE } from '../auth/index.js';
import type { RouteEntry } from './guard.js';
import { errorSchema, type DocumentedSchema, type JsonSchema } from './schemas/common.js';

/** Routes that are not part of the API and stay out of the document (the dashboard's files). */
export const UNDOCUMENTED = new Set(['GET /', 'GET /*']);

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The OpenAPI 3.1 document of the registered routes, made from the same schemas fastify
 * validates with. A route without a schema is left out here; the test that every route is in
 * the document names it. `x-slipway-access` is the route's access declaration (src/auth/access.ts).
 */
export function openApiDocument(routes: readonly RouteEntry[], info: { version: string; serverUrl: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.method === 'HEAD' || r.method === 'OPTIONS' || UNDOCUMENTED.has(`${r.method} ${r.url}`)) continue;
    const schema = r.schema as DocumentedSchema | undefined;
    if (schema?.summary === undefined) continue;
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = operation(r, schema);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Slipway API',
      version: info.version,
      description: 'Push-to-deploy platform API. Every error is {"error":{"code","message","hint"?}}. Lists take ?limit= (1 to 200) and ?cursor= (the nextCursor of the previous page).',
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'A personal token (slp_pat_…), a deploy token (slp_dpl_…) or the admin token' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The session of POST /api/v1/auth/login' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'x-csrf-token', description: "The session's csrfToken; needed with the cookie on every change" },
      },
    },
  };
}

function operation(r: RouteEntry, schema: DocumentedSchema): Record<string, unknown> {
  const op: Record<string, unknown> = {
    operationId: operationId(r.method, r.url),
    summary: schema.summary,
    ...(schema.description === undefined ? {} : { description: schema.description }),
    tags: schema.tags,
    'x-slipway-access': r.access,
    security: security(r.access, r.method),
  };
  const parameters = [
    ...parametersOf(schema.params as JsonSchema | undefined, 'path'),
    ...parametersOf(schema.querystring as JsonSchema | undefined, 'query'),
    ...parametersOf(schema.headers as JsonSchema | undefined, 'header'),
  ];
  if (parameters.length > 0) op.parameters = parameters;
  const raw = schema['x-raw-body'];
  if (schema.body !== undefined) op.requestBody = { required: false, content: { 'application/json': { schema: schema.body } } };
  else if (raw !== undefined) op.requestBody = { required: true, description: raw.description, content: { [raw.mediaType]: {} } };
  const responses: Record<string, unknown> = {};
  for (const [status, shape] of Object.entries(schema['x-response'])) {
    const content: Record<string, unknown> = shape === null ? {} : { 'application/json': { schema: shape } };
    const also = schema['x-also-produces'];
    if (also !== undefined && status === '200') content[also.mediaType] = { schema: { type: 'string', description: also.description } };
    responses[status] = { description: shape === null ? 'Done; no body' : 'OK', ...(Object.keys(content).length === 0 ? {} : { content }) };
  }
  responses.default = { description: 'An error of the catalogue', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  op.responses = responses;
  return op;
}

function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query' | 'header'): Record<string, unknown>[] {
  if (schema === undefined) return [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries((schema.properties as Record<string, JsonSchema> | undefined) ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: where, required: where === 'path' || required.has(name), ...(description === undefined ? {} : { description }), schema: rest };
  });
}

/** Who may call: a public route none; else a bearer token, or the session cookie (with the CSRF token on changes). */
function security(access: Access, method: string): Record<string, string[]>[] {
  if ('public' in access) return access.session === 'optional' ? [{}, { sessionCookie: [] }] : [];
  const cookie: Record<string, string[]> = SAFE.has(method) ? { sessionCookie: [] } : { sessionCookie: [], csrfToken: [] };
  return [{ bearerToken: [] }, cookie];
}

/** `POST /api/v1/projects/:project/deployments` -> `postProjectsProjectDeployments` */
function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1/, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
