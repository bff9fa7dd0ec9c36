import type { FastifyPluginAsync } from 'fastify';
import { deleteEnv, getProject, listEnv, setEnv } from '../../projects/index.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type KeyParams = { Params: { project: string; key: string } };

/**
 * A project's environment variables. Values go in and never come out: listing shows names,
 * targets and times, the value masked. New deployments copy them; existing ones keep theirs.
 */
export function envRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box } = deps;
  return async (app) => {
    app.get<ProjectParams>('/projects/:project/env', async (req) => {
      const project = await getProject(store.db, req.params.project);
      return { project: project.name, env: await listEnv(store.db, project.id) };
    });

    app.put<KeyParams>('/projects/:project/env/:key', async (req, reply) => {
      const body = objectBody(req.body);
      const { created, variable } = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        return setEnv(db, box, project.id, req.params.key, body);
      });
      return reply.code(created ? 201 : 200).send(variable);
    });

    app.delete<KeyParams>('/projects/:project/env/:key', async (req, reply) => {
      await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        await deleteEnv(db, project.id, req.params.key);
      });
      return reply.code(204).send();
    });
  };
}
