import type { FastifyPluginAsync } from 'fastify';
import { getDrain, readAccessEntries, readServerLines, removeDrain, setDrain } from '../../access-log/index.js';
import { AppError } from '../../errors/index.js';
import { METRICS_CONTENT_TYPE, metricsRefusal } from '../../metrics/index.js';
import { getProject } from '../../projects/index.js';
import type { Db } from '../../store/index.js';
import { audit } from '../guard.js';
import { logSchemas } from '../schemas/logs.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type LogQuery = { since?: string; tail?: string; limit?: string; type?: 'access' | 'server'; deployment?: string };

const iso = (ms: number) => new Date(ms).toISOString();

/** GET /metrics on the api's port, outside /api/v1: Prometheus sends its own bearer token, not a user's. */
export function metricsRoute(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', { schema: logSchemas.metrics, config: { access: { public: true } } }, async (req, reply) => {
      const refusal = metricsRefusal(req.headers.authorization, deps.metrics?.token);
      if (refusal !== undefined) {
        if (refusal.status === 401) void reply.header('www-authenticate', 'Bearer realm="slipway-metrics"');
        throw refusal;
      }
      const text = await deps.metrics!.text();
      return reply.type(METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
    });
  };
}

/** A project's access log, its SSR servers' output, and where both are drained to. */
export function logRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box } = deps;
  return async (app) => {
    app.get<ProjectParams & { Querystring: LogQuery }>('/projects/:project/logs', { schema: logSchemas.read, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const type = req.query.type ?? 'access';
      const limit = bounded(req.query.limit, 1000, 'limit');
      const deploymentId = req.query.deployment === undefined || req.query.deployment === '' ? undefined : req.query.deployment;
      const since = req.query.since === undefined ? await tailCursor(store.db, type, project.id, bounded(req.query.tail, 100, 'tail'), deploymentId) : Number(req.query.since);
      if (type === 'server') {
        const lines = await readServerLines(store.db, project.id, { since, limit, deploymentId });
        return { project: project.name, type, lines: lines.map((l) => ({ ...l, at: iso(l.at) })), next: String(lines.at(-1)?.id ?? since) };
      }
      const lines = await readAccessEntries(store.db, project.id, { since, limit, deploymentId });
      return { project: project.name, type, lines: lines.map((e) => ({ ...e, at: iso(e.at) })), next: String(lines.at(-1)?.id ?? since) };
    });

    app.get<ProjectParams>('/projects/:project/log-drain', { schema: logSchemas.getDrain, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      return { drain: (await getDrain(store.db, box, project.id)) ?? null };
    });

    app.put<ProjectParams>('/projects/:project/log-drain', { schema: logSchemas.setDrain, config: { access: { project: 'project', role: 'member' } } }, async (req) => {
      const body = objectBody(req.body);
      return store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        const drain = await setDrain(db, box, project.id, body.url);
        // the masked URL only: its token stays out of the trail
        await audit(db, req, project.team_id, { action: 'log-drain.set', target: project.name, details: { url: drain.url } });
        return drain;
      });
    });

    app.delete<ProjectParams>('/projects/:project/log-drain', { schema: logSchemas.removeDrain, config: { access: { project: 'project', role: 'member' } } }, async (req, reply) => {
      await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        if (!(await removeDrain(db, project.id)))
          throw new AppError('NOT_FOUND', `Project ${project.name} has no log drain.`, { hint: `Set one with PUT /api/v1/projects/${project.name}/log-drain {"url": "https://..."}.` });
        await audit(db, req, project.team_id, { action: 'log-drain.remove', target: project.name });
      });
      return reply.code(204).send();
    });
  };
}

function bounded(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new AppError('VALIDATION', `${name} must be a whole number from 1 to 1000.`, { hint: `For example: ?${name}=100` });
  return n;
}

/** The cursor just before the last `tail` entries. */
async function tailCursor(db: Db, type: 'access' | 'server', projectId: string, tail: number, deploymentId: string | undefined): Promise<number> {
  const table = type === 'access' ? 'access_logs' : 'server_logs';
  let q = db.selectFrom(table).select('id').where('project_id', '=', projectId);
  if (deploymentId !== undefined) q = q.where('deployment_id', '=', deploymentId);
  const row = await q.orderBy('id', 'desc').offset(tail).limit(1).executeTakeFirst();
  return row === undefined ? 0 : Number(row.id);
}
