import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { deleteEnvironment, getEnvironment, listEnvironments, saveEnvironment, serializeEnvironment } from '../../environments/index.js';
import { getProject } from '../../projects/index.js';
import { audit } from '../guard.js';
import { objectBody, type ApiDeps } from '../server.js';

/** A route schema with its summary (an OpenAPI field fastify's own type does not list). */
const described = (schema: { summary: string } & FastifySchema): FastifySchema => schema;
type ProjectParams = { Params: { project: string } };
type EnvParams = { Params: { project: string; environment: string } };

// Route schemas describe the shapes; the handlers check the values themselves so that a bad
// one gets a message with a hint. No additionalProperties: an unknown field gets that hint too.
const projectParams = { type: 'object', required: ['project'], properties: { project: { type: 'string', description: 'project name or id' } } };
const envParams = {
  type: 'object',
  required: ['project', 'environment'],
  properties: { project: { type: 'string', description: 'project name or id' }, environment: { type: 'string', description: 'production, preview or a named environment' } },
};
const settingsBody = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'a named environment: lower-case letters, digits, hyphens (POST only)' },
    branch: { type: ['string', 'null'], description: 'the branch whose pushes deploy to it' },
    requiresApproval: { type: 'boolean', description: 'a ready build waits in awaiting-approval until a person approves it' },
    approvers: { type: 'string', enum: ['owner', 'member'], description: 'who may approve' },
    autoPromote: { type: 'boolean', description: 'false: a ready build does not take the alias; a person promotes it' },
    protection: {
      anyOf: [{ type: 'null' }, { type: 'object', properties: { mode: { type: ['string', 'null'], enum: ['password', 'token', null] }, password: { type: 'string' } } }],
      description: 'password or bypass-token protection of its hosts; null: off',
    },
  },
};

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
    app.get<ProjectParams>(
      '/projects/:project/environments',
      { schema: described({ summary: "List a project's environments", params: projectParams }), config: { access: { project: 'project', role: 'viewer' } } },
      async (req) => {
        const project = await getProject(store.db, req.params.project);
        return { project: project.name, environments: (await listEnvironments(store.db, project)).map((e) => serializeEnvironment(config, project, e)) };
      },
    );

    app.post<ProjectParams>(
      '/projects/:project/environments',
      { schema: described({ summary: 'Create a named environment', params: projectParams, body: settingsBody }), config: { access: { project: 'project', role: 'owner' } } },
      async (req, reply) => {
        const body = objectBody(req.body);
        const { project, env, bypassToken } = await store.tx(async (db) => {
          const project = await getProject(db, req.params.project);
          const saved = await saveEnvironment(db, project, undefined, body, true);
          await audit(db, req, project.team_id, { action: 'environment.create', target: saved.env.name, details: { project: project.name, settings: Object.keys(body) } });
          return { project, ...saved };
        });
        reload(project.id);
        return reply.code(201).send({ ...serializeEnvironment(config, project, env), ...(bypassToken === undefined ? {} : { bypassToken }) });
      },
    );

    app.get<EnvParams>(
      '/projects/:project/environments/:environment',
      { schema: described({ summary: 'Show one environment', params: envParams }), config: { access: { project: 'project', role: 'viewer' } } },
      async (req) => {
        const project = await getProject(store.db, req.params.project);
        return serializeEnvironment(config, project, await getEnvironment(store.db, project, req.params.environment));
      },
    );

    // the bypass token of {"protection": {"mode": "token"}} is in this answer only: it is kept as a hash
    app.patch<EnvParams>(
      '/projects/:project/environments/:environment',
      { schema: described({ summary: "Change an environment's settings", params: envParams, body: settingsBody }), config: { access: { project: 'project', role: 'owner' } } },
      async (req) => {
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
      },
    );

    app.delete<EnvParams>(
      '/projects/:project/environments/:environment',
      { schema: described({ summary: 'Delete a named environment (its alias and domains go; its deployments stay)', params: envParams }), config: { access: { project: 'project', role: 'owner' } } },
      async (req, reply) => {
        const project = await store.tx(async (db) => {
          const project = await getProject(db, req.params.project);
          await deleteEnvironment(db, project, req.params.environment);
          await audit(db, req, project.team_id, { action: 'environment.delete', target: req.params.environment, details: { project: project.name } });
          return project;
        });
        reload(project.id);
        return reply.code(204).send();
      },
    );
  };
}
