import type { FastifyPluginAsync } from 'fastify';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { aliasTarget, createDeployment, PRODUCTION, rollback, serializeDeployment } from '../../deployments/index.js';
import { AppError } from '../../errors/index.js';
import { createProject, getProject, listProjects, serializeProject, updateProject } from '../../projects/index.js';
import { resolveRef } from '../../source/index.js';
import { bumpCounter } from '../../store/index.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };

export function projectRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, queue, box, events } = deps;
  return async (app) => {
    app.post('/projects', async (req, reply) => {
      const { project, webhookSecret } = await store.tx((db) => createProject(db, box, objectBody(req.body)));
      return reply.code(201).send({ ...serializeProject(config, project, null), webhookSecret });
    });

    app.get('/projects', async () => {
      const projects = await listProjects(store.db);
      const out = [];
      for (const p of projects) out.push(serializeProject(config, p, await aliasTarget(store.db, p.id, PRODUCTION)));
      return { projects: out };
    });

    app.get<ProjectParams>('/projects/:project', async (req) => {
      const p = await getProject(store.db, req.params.project);
      return serializeProject(config, p, await aliasTarget(store.db, p.id, PRODUCTION));
    });

    // Change settings; deployments made from now on use them (existing ones keep theirs).
    app.patch<ProjectParams>('/projects/:project', async (req) => {
      const body = objectBody(req.body);
      const p = await store.tx((db) => updateProject(db, req.params.project, body));
      return serializeProject(config, p, await aliasTarget(store.db, p.id, PRODUCTION));
    });

    // Delete a project: its rows go in one transaction (deployments, aliases, variables, domains and
    // logs cascade), which bumps alias_generation, so every edge drops its hosts and retires its
    // servers the way it does after a move. Its build caches go too; blobs stay (deployments of
    // other projects may share them) for a later garbage collection.
    app.delete<ProjectParams>('/projects/:project', { config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
      const project = await store.tx(async (db) => {
        const p = await getProject(db, req.params.project);
        // aliases point at deployments without a cascade of their own: drop them first
        await db.deleteFrom('aliases').where('project_id', '=', p.id).execute();
        await db.deleteFrom('projects').where('id', '=', p.id).execute();
        await bumpCounter(db, 'alias_generation');
        return p;
      });
      // this process's edge refreshes now; edges in other processes see the bumped generation
      events.emit('alias-moved', { projectId: project.id, alias: PRODUCTION, deploymentId: '' });
      await rm(join(config.dataDir, 'pm-cache', project.id), { recursive: true, force: true });
      await rm(join(config.dataDir, 'project-cache', project.id), { recursive: true, force: true });
      return reply.code(204).send();
    });

    // Deploy by hand: a branch (default: the production branch), a tag or a commit sha.
    app.post<ProjectParams>('/projects/:project/deployments', async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      const body = objectBody(req.body);
      const ref = body.ref ?? project.production_branch;
      if (typeof ref !== 'string' || ref === '' || ref.length > 250 || ref.startsWith('-')) {
        throw new AppError('VALIDATION', 'ref must be a branch, tag or commit sha.', { hint: 'For example: {"ref": "main"}' });
      }
      if (body.target !== undefined && body.target !== 'production' && body.target !== 'preview') {
        throw new AppError('VALIDATION', 'target must be "production" or "preview".', { hint: 'For example: {"ref": "3f9a1c2", "target": "production"}' });
      }
      const resolved = await resolveRef(project.repo_url, ref);
      const target = body.target as 'production' | 'preview' | undefined;
      const deployment = await store.tx((db) => createDeployment(db, queue, box, { project, sha: resolved.sha, branch: resolved.branch ?? null, trigger: 'api', target }));
      events.emit('job-enqueued');
      return reply.code(202).send(serializeDeployment(config, project, deployment, await aliasTarget(store.db, project.id, PRODUCTION)));
    });

    app.get<ProjectParams & { Querystring: { limit?: string } }>('/projects/:project/deployments', async (req) => {
      const project = await getProject(store.db, req.params.project);
      const limit = Math.min(200, Math.max(1, Number(req.query.limit ?? 50) || 50));
      const rows = await store.db.selectFrom('deployments').selectAll().where('project_id', '=', project.id).orderBy('seq', 'desc').limit(limit).execute();
      const prod = await aliasTarget(store.db, project.id, PRODUCTION);
      return { deployments: rows.map((d) => serializeDeployment(config, project, d, prod)) };
    });

    app.post<ProjectParams>('/projects/:project/rollback', async (req) => {
      const project = await getProject(store.db, req.params.project);
      const body = objectBody(req.body);
      if (body.deploymentId !== undefined && typeof body.deploymentId !== 'string') {
        throw new AppError('VALIDATION', 'deploymentId must be a string.', { hint: 'For example: {"deploymentId": "dk3v9x0q2m7a"}' });
      }
      const target = await rollback(store, project, body.deploymentId);
      events.emit('alias-moved', { projectId: project.id, alias: PRODUCTION, deploymentId: target.id });
      return serializeDeployment(config, project, target, target.id);
    });
  };
}
