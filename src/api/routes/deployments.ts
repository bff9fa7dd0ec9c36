import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { aliasTarget, getDeployment, PRODUCTION, promote, readLogs, recordLiveAfterMove, serializeDeployment, warmForMove } from '../../deployments/index.js';
import { checkApprover, environmentAlias, getEnvironment } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import { gitHostStatus } from '../../githost/index.js';
import { getProject } from '../../projects/index.js';
import { switchOnAws } from '../../targets/aws/index.js';
import { audit } from '../guard.js';
import { deploymentSchemas } from '../schemas/resources.js';
import { objectBody, type ApiDeps } from '../server.js';

type IdParams = { Params: { id: string } };
// a deployment in these states builds no more (awaiting-approval: built, waiting for a person)
const FINISHED = new Set(['ready', 'failed', 'canceled', 'awaiting-approval', 'rejected', 'removed']);

export function deploymentRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, events } = deps;
  return async (app) => {
    app.get<IdParams>('/deployments/:id', { schema: deploymentSchemas.show, config: { access: { deployment: 'id', role: 'viewer' } } }, async (req) => {
      const d = await getDeployment(store.db, req.params.id);
      const project = await getProject(store.db, d.project_id);
      return { ...serializeDeployment(config, project, d, await aliasTarget(store.db, project.id, PRODUCTION)), gitHost: await gitHostStatus(store.db, d.id) };
    });

    // Build log lines after line `after` (0: from the start). `finished` says no more will come.
    // With `Accept: text/event-stream` the log streams as server-sent events until the build ends.
    type LogsRequest = IdParams & { Querystring: { after?: string; limit?: string } };
    const logCursor = (req: FastifyRequest<LogsRequest>): number => {
      const lastEventId = req.headers['last-event-id'];
      const after = Number(typeof lastEventId === 'string' ? lastEventId : (req.query.after ?? 0));
      if (!Number.isInteger(after) || after < 0) throw new AppError('VALIDATION', 'after must be a line number (0 or more).', { hint: 'For example: ?after=120' });
      return after;
    };
    app.get<LogsRequest>(
      '/deployments/:id/logs',
      { schema: deploymentSchemas.logs, config: { access: { deployment: 'id', role: 'viewer' } }, preValidation: async (req) => void logCursor(req) },
      async (req, reply) => {
        const after = logCursor(req);
        const limit = Math.min(5000, Math.max(1, Number(req.query.limit ?? 1000) || 1000));
        // read the status first: lines written before a build finished are all visible once it reads finished
        const d = await getDeployment(store.db, req.params.id);
        if (req.headers.accept?.includes('text/event-stream') === true) {
          reply.hijack();
          await streamLogs(reply.raw, d.id, after);
          return;
        }
        const lines = await readLogs(store.db, d.id, after, limit);
        const finished = FINISHED.has(d.status) && lines.length < limit;
        return { deploymentId: d.id, status: d.status, lines, next: lines.at(-1)?.n ?? after, finished };
      },
    );

    /** Write log lines as SSE events (`id` = line number, so a reconnect resumes) until the build ends or the client leaves. */
    async function streamLogs(res: import('node:http').ServerResponse, id: string, from: number): Promise<void> {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      let closed = false;
      res.on('close', () => (closed = true));
      let after = from;
      while (!closed) {
        const status = (await getDeployment(store.db, id)).status;
        const lines = await readLogs(store.db, id, after, 1000);
        for (const line of lines) res.write(`id: ${line.n}\nevent: line\ndata: ${JSON.stringify(line)}\n\n`);
        after = lines.at(-1)?.n ?? after;
        if (FINISHED.has(status) && lines.length < 1000) {
          res.end(`event: end\ndata: ${JSON.stringify({ status })}\n\n`);
          return;
        }
        if (lines.length === 0) {
          res.write(': waiting\n\n');
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }

    // {"environment"}: promote into a named environment (default production); one that requires
    // approval needs its approvers' role, so promoting is no way around an approval
    app.post<IdParams>('/deployments/:id/promote', { schema: deploymentSchemas.promote, config: { access: { deployment: 'id', role: 'member', deploy: true } } }, async (req) => {
      const { environment = PRODUCTION } = objectBody(req.body);
      if (typeof environment !== 'string') throw new AppError('VALIDATION', 'environment must be the name of an environment.', { hint: 'For example: {"environment": "staging"}' });
      const project = req.grant.project!;
      const env = await getEnvironment(store.db, project, environment);
      const alias = environmentAlias(env.name);
      if (alias === undefined)
        throw new AppError('VALIDATION', 'A deployment cannot be promoted to preview: each branch has its own preview URL.', { hint: 'Promote to production or a named environment.' });
      if (env.requiresApproval) checkApprover(env, req.grant.role, 'promote');
      // ready means live: an SSR server that stopped since starts on the edges before the move (bounded wait)
      await warmForMove(store, deps.blobs, await getDeployment(store.db, req.params.id));
      const d = await promote(
        store,
        req.params.id,
        async (db, moved) => {
          await audit(db, req, project.team_id, { action: 'deployment.promote', target: moved.id, details: { project: project.name, environment: env.name } });
          // an AWS project: the live alias and asset root move first; if AWS refuses, nothing moves
          await switchOnAws(deps, db, project, moved.id, env.name);
        },
        alias,
      );
      events.emit('alias-moved', { projectId: project.id, alias, deploymentId: d.id });
      // liveAt comes once every edge serves the move; the answer does not wait for it (the CLI does)
      void recordLiveAfterMove(store, d.id);
      return serializeDeployment(config, project, d, await aliasTarget(store.db, project.id, PRODUCTION));
    });

    // Cancel a queued or running build; a finished deployment cannot be canceled.
    app.post<IdParams>('/deployments/:id/cancel', { schema: deploymentSchemas.cancel, config: { access: { deployment: 'id', role: 'member', deploy: true } } }, async (req) => {
      const updated = await store.tx(async (db) => {
        const d = await getDeployment(db, req.params.id);
        if (FINISHED.has(d.status)) throw new AppError('CONFLICT', `Deployment ${d.id} is already ${d.status}.`, { hint: 'Only a queued or building deployment can be canceled.' });
        await db.updateTable('deployments').set({ status: 'canceled', error_code: 'CANCELED', error_message: 'Canceled by a person.', finished_at: Date.now() }).where('id', '=', d.id).execute();
        await db.updateTable('jobs').set({ status: 'canceled', updated_at: Date.now() }).where('deployment_id', '=', d.id).where('status', '=', 'queued').execute();
        await audit(db, req, req.grant.project!.team_id, { action: 'deployment.cancel', target: d.id, details: { project: req.grant.project!.name } });
        return getDeployment(db, d.id);
      });
      events.emit('deployment-changed', { deploymentId: updated.id });
      const project = await getProject(store.db, updated.project_id);
      return serializeDeployment(config, project, updated, await aliasTarget(store.db, project.id, PRODUCTION));
    });
  };
}
