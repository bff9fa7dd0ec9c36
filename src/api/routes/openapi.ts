import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../config/index.js';
import type { RouteEntry } from '../guard.js';
import { openApiDocument } from '../openapi.js';
import { systemSchemas } from '../schemas/resources.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** GET /api/v1/openapi.json: made once, on the first request, when every route is registered. */
export function openApiRoutes(config: Config, routes: () => readonly RouteEntry[]): FastifyPluginAsync {
  let document: string | undefined;
  return async (app) => {
    app.get('/openapi.json', { schema: systemSchemas.openapi, config: { access: { public: true } } }, async (_req, reply) => {
      document ??= JSON.stringify(openApiDocument(routes(), { version: VERSION, serverUrl: config.publicUrl }));
      return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document);
    });
  };
}
