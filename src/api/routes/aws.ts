import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../errors/index.js';
import { getProject } from '../../projects/index.js';
import {
  checkAwsAccess,
  deleteAwsAccess,
  listTargetSettings,
  maskAwsAccess,
  parseAwsAccess,
  parseTargetSetting,
  readAwsAccess,
  readAwsRecord,
  saveAwsAccess,
  saveTargetSetting,
} from '../../targets/aws/index.js';
import { audit } from '../guard.js';
import { awsSchemas } from '../schemas/aws.js';
import { objectBody, type ApiDeps } from '../server.js';

type TeamParams = { Params: { team: string } };
type ProjectParams = { Params: { project: string } };

/**
 * The AWS target's settings: a team's access (owners set it; stored encrypted, shown masked),
 * a project's target per environment, and what a deployment did on AWS.
 */
export function awsRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box, config } = deps;
  return async (app) => {
    app.get<TeamParams>('/teams/:team/aws', { schema: awsSchemas.showAccess, config: { access: { team: 'team', role: 'viewer' } } }, async (req) => {
      const access = await readAwsAccess(store, box, req.grant.team!.id);
      return { aws: access === undefined ? null : maskAwsAccess(access) };
    });

    app.put<TeamParams>('/teams/:team/aws', { schema: awsSchemas.setAccess, config: { access: { team: 'team', role: 'owner' } } }, async (req) => {
      const access = parseAwsAccess(req.body);
      const team = req.grant.team!;
      await store.tx(async (db) => {
        await saveAwsAccess(db, box, team.id, access);
        await audit(db, req, team.id, { action: 'aws.set', target: team.slug, details: { kind: access.kind, region: access.region, ...(access.kind === 'role' ? { roleArn: access.roleArn } : {}) } });
      });
      return maskAwsAccess((await readAwsAccess(store, box, team.id))!);
    });

    app.delete<TeamParams>('/teams/:team/aws', { schema: awsSchemas.removeAccess, config: { access: { team: 'team', role: 'owner' } } }, async (req, reply) => {
      const team = req.grant.team!;
      const removed = await store.tx(async (db) => {
        const gone = await deleteAwsAccess(db, team.id);
        if (gone) await audit(db, req, team.id, { action: 'aws.remove', target: team.slug, details: {} });
        return gone;
      });
      if (!removed) throw new AppError('AWS_NOT_CONFIGURED', `Team "${team.slug}" has no AWS access.`);
      return reply.code(204).send();
    });

    // a change to nothing, but it spends the team's AWS calls: members, not viewers
    app.post<TeamParams>('/teams/:team/aws/check', { schema: awsSchemas.checkAccess, config: { access: { team: 'team', role: 'member' } } }, async (req) => {
      const team = req.grant.team!;
      const access = await readAwsAccess(store, box, team.id);
      if (access === undefined) throw new AppError('AWS_NOT_CONFIGURED', `Team "${team.slug}" has no AWS access.`);
      return checkAwsAccess(access, config.awsEndpoints);
    });

    app.get<ProjectParams>('/projects/:project/target', { schema: awsSchemas.showTarget, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const targets = (await listTargetSettings(store.db, project.id)).map((t) => ({ ...t, environment: t.environment === '' ? null : t.environment }));
      return { project: project.name, target: targets.find((t) => t.environment === null)?.target ?? 'edge', targets };
    });

    app.put<ProjectParams>('/projects/:project/target', { schema: awsSchemas.setTarget, config: { access: { project: 'project', role: 'owner' } } }, async (req) => {
      const setting = parseTargetSetting(objectBody(req.body));
      const saved = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        await saveTargetSetting(db, project.id, setting);
        await audit(db, req, project.team_id, {
          action: 'project.target',
          target: project.name,
          details: { target: setting.target, environment: setting.environment || null, named: Object.keys(setting.resources) },
        });
        return (await listTargetSettings(db, project.id)).find((t) => t.environment === setting.environment)!;
      });
      return { ...saved, environment: saved.environment === '' ? null : saved.environment };
    });

    app.get<{ Params: { id: string } }>('/deployments/:id/aws', { schema: awsSchemas.deploymentAws, config: { access: { deployment: 'id', role: 'viewer' } } }, async (req) => ({
      aws: (await readAwsRecord(store.db, req.grant.deployment!.id)) ?? null,
    }));
  };
}
