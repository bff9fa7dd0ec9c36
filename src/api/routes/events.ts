import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { aliasTarget, PRODUCTION, serializeDeployment } from '../../deployments/index.js';
import { getProject } from '../../projects/index.js';
import type { Deployment } from '../../store/index.js';
import { deploymentSchemas } from '../schemas/resources.js';
import type { ApiDeps } from '../server.js';
import { logger } from '../../log/index.js';

const eventsLog = logger('api');

type ProjectParams = { Params: { project: string } };
const FINISHED = new Set(['ready', 'failed', 'canceled', 'awaiting-approval', 'rejected', 'removed']);
/** how often the store is read for changes when nothing in this process said something moved */
const POLL_MS = 500;
/** a comment this often keeps proxies from closing an idle stream */
const KEEPALIVE_MS = 15_000;

/**
 * `GET /projects/<p>/events` with `Accept: text/event-stream`: a server-sent event stream of the project's deployment changes, for
 * the dashboard (no polling loop in the browser). Events:
 * - `deployment`: a deployment as GET /deployments/<id> shows it, when it is new or its status changed;
 * - `production`: `{"deploymentId"}` when the production alias moved (promote, rollback, a ready build).
 * The builds run in worker processes that may not share this process's event bus, so the store is
 * the source of truth: each stream re-reads only the deployments that can still change (not yet
 * finished) and those newer than the last one it saw; an in-process event just makes it look sooner.
 * Without that Accept header the answer is one JSON object, what a stream starts from: the
 * production deployment and the deployments still under way.
 */
export function eventRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, events } = deps;
  return async (app) => {
    app.get<ProjectParams>('/projects/:project/events', { schema: deploymentSchemas.events, config: { access: { project: 'project', role: 'viewer' } } }, async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      if (req.headers.accept?.includes('text/event-stream') !== true) {
        // not an event stream reader: what a stream would start from, as one JSON answer
        const prod = await aliasTarget(store.db, project.id, PRODUCTION);
        const active = await store.db
          .selectFrom('deployments')
          .selectAll()
          .where('project_id', '=', project.id)
          .where('status', 'not in', [...FINISHED] as Deployment['status'][])
          .orderBy('seq', 'desc')
          .execute();
        return { project: project.name, productionDeploymentId: prod, active: active.map((d) => serializeDeployment(config, project, d, prod)) };
      }
      const latest = await store.db.selectFrom('deployments').select('seq').where('project_id', '=', project.id).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      const open = await store.db
        .selectFrom('deployments')
        .selectAll()
        .where('project_id', '=', project.id)
        .where('status', 'not in', [...FINISHED] as Deployment['status'][])
        .execute();
      reply.hijack();
      const res: ServerResponse = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      let closed = false;
      let wake: (() => void) | undefined;
      const nudge = () => wake?.();
      const onMove = (e: { projectId: string }) => {
        if (e.projectId === project.id) nudge();
      };
      events.on('job-enqueued', nudge);
      events.on('alias-moved', onMove);
      res.on('close', () => {
        closed = true;
        events.off('job-enqueued', nudge);
        events.off('alias-moved', onMove);
        nudge();
      });

      let maxSeq = Number(latest?.seq ?? 0);
      /** what was last sent of each deployment that may still change */
      const watched = new Map<string, string>(open.map((d) => [d.id, fingerprint(d)]));
      let production = await aliasTarget(store.db, project.id, PRODUCTION);
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ project: project.name, productionDeploymentId: production })}\n\n`);
      let lastWrite = Date.now();
      try {
        while (!closed) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, POLL_MS).unref();
          });
          if (closed) break;
          const prod = await aliasTarget(store.db, project.id, PRODUCTION);
          const ids = [...watched.keys()];
          let q = store.db.selectFrom('deployments').selectAll().where('project_id', '=', project.id);
          q = ids.length === 0 ? q.where('seq', '>', maxSeq) : q.where((eb) => eb.or([eb('seq', '>', maxSeq), eb('id', 'in', ids)]));
          const rows = await q.orderBy('seq', 'asc').execute();
          for (const d of rows) {
            maxSeq = Math.max(maxSeq, Number(d.seq));
            const print = fingerprint(d);
            if (watched.get(d.id) === print) continue;
            if (FINISHED.has(d.status)) watched.delete(d.id);
            else watched.set(d.id, print);
            res.write(`event: deployment\ndata: ${JSON.stringify(serializeDeployment(config, project, d, prod))}\n\n`);
            lastWrite = Date.now();
          }
          if (prod !== production) {
            production = prod;
            res.write(`event: production\ndata: ${JSON.stringify({ deploymentId: prod })}\n\n`);
            lastWrite = Date.now();
          }
          if (Date.now() - lastWrite > KEEPALIVE_MS) {
            res.write(': keepalive\n\n');
            lastWrite = Date.now();
          }
        }
      } catch (err) {
        // the store went away under us (shutdown): end the stream; the browser reconnects
        if (!closed) eventsLog.error({ err, project: project.name }, 'events stream ended');
      } finally {
        res.end();
      }
    });
  };
}

/** what the dashboard shows of a deployment that can change while it builds */
function fingerprint(d: Deployment): string {
  return `${d.status}|${d.started_at}|${d.finished_at}|${d.attempts}|${d.error_code}|${d.files_total}|${d.build_info === null ? 0 : d.build_info.length}`;
}
