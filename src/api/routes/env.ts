import type { FastifyPluginAsync } from 'fastify';
import { getEnvironment } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import { deleteEnv, envForTarget, getProject, listEnv, setEnv } from '../../projects/index.js';
import { audit } from '../guard.js';
import { pageByKey, pageRequest, type PageQuery } from '../pagination.js';
import { envSchemas } from '../schemas/resources.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type KeyParams = { Params: { project: string; key: string } };

/**
 * A project's environment variables. Values go in and never come out: listing shows names,
 * targets (environments), branch overrides and times, the value masked. PUT {value, targets?, branch?}. New deployments copy them; existing ones keep theirs.
 */
export function envRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box } = deps;
  return async (app) => {
    // at most 200 variables a project: read whole, paged by name
    app.get<ProjectParams & { Querystring: PageQuery }>('/projects/:project/env', { schema: envSchemas.list, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const page = pageByKey(await listEnv(store.db, project.id), pageRequest(req.query, 1), (v) => v.key);
      return { project: project.name, env: page.items, nextCursor: page.nextCursor };
    });

    // The values one environment's deployments get (with a branch's overrides), for `slipway env
    // pull`: members and owners only (a viewer never sees a value), and every read is audited.
    type ValuesRequest = ProjectParams & { Querystring: { environment?: string; branch?: string } };
    app.get<ValuesRequest>('/projects/:project/env/values', { schema: envSchemas.values, config: { access: { project: 'project', role: 'member' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const environment = (await getEnvironment(store.db, project, req.query.environment ?? 'production')).name;
      const branch = req.query.branch === undefined || req.query.branch === '' ? null : req.query.branch;
      if (branch !== null && branch.length > 250) throw new AppError('VALIDATION', 'branch is longer than 250 characters.', { hint: 'For example: ?environment=preview&branch=feature-x' });
      const values = await store.tx(async (db) => {
        const env = await envForTarget(db, box, project.id, environment, branch);
        await audit(db, req, project.team_id, { action: 'env.pull', target: project.name, details: { environment, branch, names: Object.keys(env) } });
        return env;
      });
      return { project: project.name, environment, branch, values };
    });

    app.put<KeyParams>('/projects/:project/env/:key', { schema: envSchemas.set, config: { access: { project: 'project', role: 'member' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const { created, variable } = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        const result = await setEnv(db, box, project.id, req.params.key, body);
        // the name only: the value never reaches the trail
        await audit(db, req, project.team_id, {
          action: 'env.set',
          target: req.params.key,
          details: { project: project.name, created: result.created, targets: result.variable.targets, branch: result.variable.branch },
        });
        return result;
      });
      return reply.code(created ? 201 : 200).send(variable);
    });

    // ?target=staging removes that environment's value only; ?branch=b the branch override only
    type DeleteRequest = KeyParams & { Querystring: { target?: string; branch?: string } };
    app.delete<DeleteRequest>('/projects/:project/env/:key', { schema: envSchemas.remove, config: { access: { project: 'project', role: 'member' } } }, async (req, reply) => {
      await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        await deleteEnv(db, project.id, req.params.key, { target: req.query.target, branch: req.query.branch });
        await audit(db, req, project.team_id, { action: 'env.remove', target: req.params.key, details: { project: project.name } });
      });
      return reply.code(204).send();
    });
  };
}
