import type { FastifyPluginAsync } from 'fastify';
import {
  aliasTarget,
  branchAlias,
  branchSlug,
  getDeployment,
  moveAlias,
  moveAliasForward,
  PRODUCTION,
  recordLiveAfterMove,
  serializeDeployment,
  startLiveMove,
  warmForMove,
} from '../../deployments/index.js';
import { checkReason, environmentAlias, pendingApproval } from '../../environments/index.js';
import { recordDeploymentEvent } from '../../notify/index.js';
import { getProject } from '../../projects/index.js';
import { bumpCounter } from '../../store/index.js';
import { audit } from '../guard.js';
import { environmentSchemas } from '../schemas/environments.js';
import { objectBody, type ApiDeps } from '../server.js';

type IdParams = { Params: { id: string } };

/**
 * A person's decision on a deployment that waits in awaiting-approval. The access check lets
 * members through; the environment's `approvers` then decides whether a member may (owners
 * always may). Who, when and why go to the audit trail in the same transaction.
 */
export function approvalRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, events } = deps;
  return async (app) => {
    app.post<IdParams>('/deployments/:id/approve', { schema: environmentSchemas.approve, config: { access: { deployment: 'id', role: 'member' } } }, async (req) => {
      const reason = checkReason(objectBody(req.body).reason);
      // ready means live, as for a promote: the live edges start its server before the alias moves
      // (only for a caller who may approve it: the check runs again in the transaction below)
      const waiting = await getDeployment(store.db, req.params.id);
      await pendingApproval(store.db, await getProject(store.db, waiting.project_id), waiting, req.grant.role, 'approve');
      await warmForMove(store, deps.blobs, waiting);
      const { project, deployment, moved } = await store.tx(async (db) => {
        const d = await getDeployment(db, req.params.id);
        const project = await getProject(db, d.project_id);
        const env = await pendingApproval(db, project, d, req.grant.role, 'approve');
        await db.updateTable('deployments').set({ status: 'ready' }).where('id', '=', d.id).execute();
        await recordDeploymentEvent(db, 'deployment.ready', d.id);
        // a person's decision: the environment takes it even when a newer one served there (like promote)
        const alias = environmentAlias(env.name)!;
        await moveAlias(db, project.id, alias, d.id);
        await startLiveMove(db, d.id);
        const moved = [alias];
        if (d.branch !== null) {
          const name = branchAlias(branchSlug(d.branch, project.name));
          if (await moveAliasForward(db, project.id, name, d)) moved.push(name);
        }
        await audit(db, req, project.team_id, { action: 'deployment.approve', target: d.id, details: { project: project.name, environment: env.name, reason } });
        return { project, deployment: await getDeployment(db, d.id), moved };
      });
      for (const alias of moved) events.emit('alias-moved', { projectId: project.id, alias, deploymentId: deployment.id });
      void recordLiveAfterMove(store, deployment.id);
      return serializeDeployment(config, project, deployment, await aliasTarget(store.db, project.id, PRODUCTION));
    });

    app.post<IdParams>('/deployments/:id/reject', { schema: environmentSchemas.reject, config: { access: { deployment: 'id', role: 'member' } } }, async (req) => {
      const reason = checkReason(objectBody(req.body).reason);
      const { project, deployment } = await store.tx(async (db) => {
        const d = await getDeployment(db, req.params.id);
        const project = await getProject(db, d.project_id);
        const env = await pendingApproval(db, project, d, req.grant.role, 'reject');
        await db.updateTable('deployments').set({ status: 'rejected' }).where('id', '=', d.id).execute();
        // edges that cached its own host drop it: a rejected build serves nowhere
        await bumpCounter(db, 'alias_generation');
        await audit(db, req, project.team_id, { action: 'deployment.reject', target: d.id, details: { project: project.name, environment: env.name, reason } });
        return { project, deployment: await getDeployment(db, d.id) };
      });
      events.emit('alias-moved', { projectId: project.id, alias: `deployment:${deployment.id}`, deploymentId: deployment.id });
      return serializeDeployment(config, project, deployment, await aliasTarget(store.db, project.id, PRODUCTION));
    });
  };
}
