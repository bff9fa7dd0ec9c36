import type { FastifyPluginAsync } from 'fastify';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atLeast, findTeam, teamNotFound, teamRole, teamsOf, type Caller } from '../../auth/index.js';
import { aliasTarget, createDeployment, PRODUCTION, recordLiveAfterMove, rollback, rollbackTarget, serializeDeployment, warmForMove } from '../../deployments/index.js';
import { getEnvironment } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import { createProject, getProject, listProjects, serializeProject, updateProject } from '../../projects/index.js';
import { resolveRef } from '../../source/index.js';
import { switchOnAws } from '../../targets/aws/index.js';
import { bumpCounter, type Db, type Deployment, type Project, type Team } from '../../store/index.js';
import { audit } from '../guard.js';
import { finishPage, pageByKey, pageRequest, type PageQuery } from '../pagination.js';
import { projectSchemas } from '../schemas/projects.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };

export function projectRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, queue, box, events } = deps;
  const show = async (p: Project, db: Db = store.db) => serializeProject(config, p, await aliasTarget(db, p.id, PRODUCTION), await teamSlug(db, p.team_id));
  return async (app) => {
    // the team: "team" in the body, else the caller's only team (the admin's: "default")
    app.post('/projects', { schema: projectSchemas.create, config: { access: { caller: 'person' }, idempotent: true } }, async (req, reply) => {
      const body = objectBody(req.body);
      const { project, webhookSecret, team } = await store.tx(async (db) => {
        const team = await teamForNewProject(db, req.caller!, body.team);
        const made = await createProject(db, box, body, team.id);
        await audit(db, req, team.id, { action: 'project.create', target: made.project.name });
        return { ...made, team };
      });
      return reply.code(201).send({ ...serializeProject(config, project, null, team.slug), webhookSecret });
    });

    // the caller's projects (?team=<slug>: of that team only); the admin sees all
    app.get<{ Querystring: PageQuery & { team?: string } }>('/projects', { schema: projectSchemas.list, config: { access: { caller: 'any' } } }, async (req) => {
      const page = pageByKey(await visibleProjects(store.db, req.caller!, req.query.team), pageRequest(req.query, 1), (p) => p.name);
      const out = [];
      for (const p of page.items) out.push(await show(p));
      return { projects: out, nextCursor: page.nextCursor };
    });

    app.get<ProjectParams>('/projects/:project', { schema: projectSchemas.show, config: { access: { project: 'project', role: 'viewer' } } }, async (req) =>
      show(await getProject(store.db, req.params.project)),
    );

    // Change settings; deployments made from now on use them (existing ones keep theirs).
    app.patch<ProjectParams>('/projects/:project', { schema: projectSchemas.update, config: { access: { project: 'project', role: 'member' } } }, async (req) => {
      const body = objectBody(req.body);
      const p = await store.tx(async (db) => {
        const updated = await updateProject(db, req.params.project, body);
        await audit(db, req, updated.team_id, { action: 'project.update', target: updated.name, details: { settings: Object.keys(body) } });
        return updated;
      });
      return show(p);
    });

    // Delete a project: its rows go in one transaction (deployments, aliases, variables, domains and
    // logs cascade), which bumps alias_generation, so every edge drops its hosts and retires its
    // servers the way it does after a move. Its build caches go too; blobs stay (deployments of
    // other projects may share them) for a later garbage collection.
    app.delete<ProjectParams>('/projects/:project', { schema: projectSchemas.remove, config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
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

    // Deploy by hand: a branch (default: the production branch), a tag or a commit sha, to an environment.
    app.post<ProjectParams>(
      '/projects/:project/deployments',
      { schema: projectSchemas.deploy, config: { access: { project: 'project', role: 'member', deploy: true }, idempotent: true } },
      async (req, reply) => {
        const project = await getProject(store.db, req.params.project);
        const body = objectBody(req.body);
        const ref = body.ref ?? project.production_branch;
        if (typeof ref !== 'string' || ref === '' || ref.length > 250 || ref.startsWith('-')) {
          throw new AppError('VALIDATION', 'ref must be a branch, tag or commit sha.', { hint: 'For example: {"ref": "main"}' });
        }
        if (body.target !== undefined && body.target !== 'production' && body.target !== 'preview') {
          throw new AppError('VALIDATION', 'target must be "production" or "preview".', { hint: 'For example: {"ref": "3f9a1c2", "target": "production"}' });
        }
        // any ref to any environment (its approval still applies); default: the one bound to the branch
        if (body.environment !== undefined && typeof body.environment !== 'string') {
          throw new AppError('VALIDATION', 'environment must be the name of an environment.', { hint: 'For example: {"ref": "develop", "environment": "staging"}' });
        }
        const environment = body.environment === undefined ? undefined : (await getEnvironment(store.db, project, body.environment as string)).name;
        if (environment !== undefined && body.target !== undefined && body.target !== (environment === 'production' ? 'production' : 'preview')) {
          throw new AppError('VALIDATION', `target ${JSON.stringify(body.target)} contradicts environment ${environment}.`, { hint: 'Send only environment.' });
        }
        const resolved = await resolveRef(project.repo_url, ref);
        const target = body.target as 'production' | 'preview' | undefined;
        const deployment = await store.tx(async (db) => {
          const d = await createDeployment(db, queue, box, { project, sha: resolved.sha, branch: resolved.branch ?? null, trigger: 'api', target, environment });
          await audit(db, req, project.team_id, {
            action: 'deployment.create',
            target: d.id,
            details: { project: project.name, ref, sha: d.commit_sha, target: d.target, environment: d.environment },
          });
          return d;
        });
        events.emit('job-enqueued');
        return reply.code(202).send(serializeDeployment(config, project, deployment, await aliasTarget(store.db, project.id, PRODUCTION)));
      },
    );

    // newest first, keyed by seq (unique, only grows); the filters are in the query, so a page is full
    type DeploymentQuery = PageQuery & { branch?: string; status?: Deployment['status']; environment?: string };
    app.get<ProjectParams & { Querystring: DeploymentQuery }>(
      '/projects/:project/deployments',
      { schema: projectSchemas.deployments, config: { access: { project: 'project', role: 'viewer' } } },
      async (req) => {
        const project = req.grant.project!;
        const { branch, status, environment } = req.query;
        const page = pageRequest(req.query, 1);
        let q = store.db.selectFrom('deployments').selectAll().where('project_id', '=', project.id);
        if (branch !== undefined && branch !== '') q = q.where('branch', '=', branch);
        if (status !== undefined) q = q.where('status', '=', status);
        if (environment !== undefined && environment !== '') q = q.where('environment', '=', environment);
        if (page.after !== undefined) q = q.where('seq', '<', Number(page.after[0]));
        const rows = await q
          .orderBy('seq', 'desc')
          .limit(page.limit + 1)
          .execute();
        const { items, nextCursor } = finishPage(rows, page.limit, (d) => [Number(d.seq)]);
        const prod = await aliasTarget(store.db, project.id, PRODUCTION);
        return { deployments: items.map((d) => serializeDeployment(config, project, d, prod)), nextCursor };
      },
    );

    app.post<ProjectParams>('/projects/:project/rollback', { schema: projectSchemas.rollback, config: { access: { project: 'project', role: 'member', deploy: true } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const body = objectBody(req.body);
      if (body.deploymentId !== undefined && typeof body.deploymentId !== 'string') {
        throw new AppError('VALIDATION', 'deploymentId must be a string.', { hint: 'For example: {"deploymentId": "dk3v9x0q2m7a"}' });
      }
      // ready means live: an SSR server that stopped since starts on the edges before the move (bounded wait)
      await warmForMove(store, deps.blobs, await rollbackTarget(store.db, project, body.deploymentId));
      const target = await rollback(store, project, body.deploymentId, async (db, d) => {
        await audit(db, req, project.team_id, { action: 'deployment.rollback', target: d.id, details: { project: project.name } });
        // an AWS project: the live alias and asset root go back first; if AWS refuses, nothing moves
        await switchOnAws(deps, db, project, d.id);
      });
      events.emit('alias-moved', { projectId: project.id, alias: PRODUCTION, deploymentId: target.id });
      void recordLiveAfterMove(store, target.id); // liveAt comes once every edge serves it; the CLI waits for it
      return serializeDeployment(config, project, target, target.id);
    });
  };
}

export async function teamSlug(db: Db, teamId: string | null): Promise<string | null> {
  if (teamId === null) return null;
  return (await db.selectFrom('teams').select('slug').where('id', '=', teamId).executeTakeFirst())?.slug ?? null;
}

/** The team a new project goes to; the caller must be a member (or owner) of it. */
async function teamForNewProject(db: Db, caller: Caller, given: unknown): Promise<Team> {
  if (given !== undefined && given !== null) {
    if (typeof given !== 'string') throw new AppError('VALIDATION', 'team must be the slug of one of your teams.', { hint: 'For example: {"team": "acme"}' });
    const team = await findTeam(db, given);
    const role = team === undefined ? undefined : await teamRole(db, caller, team.id);
    if (team === undefined || role === undefined) throw teamNotFound(given);
    if (!atLeast(role, 'member'))
      throw new AppError('FORBIDDEN', `Creating a project in team "${team.slug}" needs the member role; you are a ${role} there.`, { hint: 'Ask an owner of the team to change your role.' });
    return team;
  }
  let candidates: string[];
  if (caller.kind === 'admin') {
    const all = await db.selectFrom('teams').select('slug').orderBy('slug').execute();
    candidates = all.some((t) => t.slug === 'default') ? ['default'] : all.map((t) => t.slug);
  } else if (caller.kind === 'user') {
    const mine = (await teamsOf(db, caller.user.id)).filter((t) => atLeast(t.role, 'member') && (caller.token?.team_id == null || caller.token.team_id === t.id));
    candidates = mine.map((t) => t.slug);
  } else {
    candidates = [];
  }
  if (candidates.length !== 1) {
    throw new AppError('VALIDATION', candidates.length === 0 ? 'You are in no team that may create projects.' : 'Which team? You are in more than one.', {
      hint: candidates.length === 0 ? 'Create a team first: POST /api/v1/teams {"slug"} (slipway teams create <slug>).' : `Pass "team", one of: ${candidates.join(', ')}`,
    });
  }
  return (await findTeam(db, candidates[0]!))!;
}

/** The projects a caller may see, optionally of one team (a team they are not in: TEAM_NOT_FOUND). */
async function visibleProjects(db: Db, caller: Caller, team: string | undefined): Promise<Project[]> {
  let projects: Project[];
  if (caller.kind === 'admin') projects = await listProjects(db);
  else if (caller.kind === 'deploy') projects = (await listProjects(db)).filter((p) => p.id === caller.token.project_id);
  else
    projects = await listProjects(
      db,
      (await teamsOf(db, caller.user.id)).filter((t) => caller.token?.team_id == null || caller.token.team_id === t.id).map((t) => t.id),
    );
  if (team === undefined || team === '') return projects;
  const t = await findTeam(db, team);
  // a deploy token sees its project's team, nothing else
  const seen = t !== undefined && (projects.some((p) => p.team_id === t.id) || (await teamRole(db, caller, t.id)) !== undefined);
  if (!seen) throw teamNotFound(team);
  return projects.filter((p) => p.team_id === t.id);
}
