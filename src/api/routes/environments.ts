import type { FastifyPluginAsync } from 'fastify';
import { deleteEnvironment, getEnvironment, listEnvironments, saveEnvironment, serializeEnvironment } from '../../environments/index.js';
import { getProject } from '../../projects/index.js';
import { audit } from '../guard.js';
import { environmentSchemas } from '../schemas/environments.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type EnvParams = { Params: { project: string; environment: string } };

/**
 * A project's environments: production and preview always exist, named ones (staging) are
 * bound to a branch. Reading needs a viewer; every change an owner (approval and protection are
 * the owner's decisions).
 */
export function environmentRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, events } = deps;
  // settings the edge reads (protection, the alias) changed: this process's edge reloads now, others on the generation bump
  const reload = (projectId: string) => events.emit('alias-moved', { projectId, alias: '', deploymentId: '' });
  return async (app) => {
    app.get<ProjectParams>('/projects/:project/environments', { schema: environmentSchemas.list, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      return { project: project.name, environments: (await listEnvironments(store.db, project)).map((e) => serializeEnvironment(config, project, e)) };
    });

    app.post<ProjectParams>('/projects/:project/environments', { schema: environmentSchemas.create, config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const { project, env, bypassToken } = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        const saved = await saveEnvironment(db, project, undefined, body, true);
        await audit(db, req, project.team_id, { action: 'environment.create', target: saved.env.name, details: { project: project.name, settings: Object.keys(body) } });
        return { project, ...saved };
      });
      reload(project.id);
      return reply.code(201).send({ ...serializeEnvironment(config, project, env), ...(bypassToken === undefined ? {} : { bypassToken }) });
    });

    app.get<EnvParams>('/projects/:project/environments/:environment', { schema: environmentSchemas.show, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      return serializeEnvironment(config, project, await getEnvironment(store.db, project, req.params.environment));
    });

    // the bypass token of {"protection": {"mode": "token"}} is in this answer only: it is kept as a hash
    app.patch<EnvParams>('/projects/:project/environments/:environment', { schema: environmentSchemas.update, config: { access: { project: 'project', role: 'owner' } } }, async (req) => {
      const body = objectBody(req.body);
      const { project, env, bypassToken } = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        const saved = await saveEnvironment(db, project, req.params.environment, body, false);
        // the fields changed, never a password
        await audit(db, req, project.team_id, { action: 'environment.update', target: saved.env.name, details: { project: project.name, settings: Object.keys(body) } });
        return { project, ...saved };
      });
      reload(project.id);
      return { ...serializeEnvironment(config, project, env), ...(bypassToken === undefined ? {} : { bypassToken }) };
    });

    app.delete<EnvParams>('/projects/:project/environments/:environment', { schema: environmentSchemas.remove, config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
      const project = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        await deleteEnvironment(db, project, req.params.environment);
        await audit(db, req, project.team_id, { action: 'environment.delete', target: req.params.environment, details: { project: project.name } });
        return project;
      });
      reload(project.id);
      return reply.code(204).send();
    });
  };
}
