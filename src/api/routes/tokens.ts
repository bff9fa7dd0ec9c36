import type { FastifyPluginAsync } from 'fastify';
import { atLeast, checkExpiry, checkTokenName, findTeam, insertToken, projectNotFound, projectTeamRole, serializeToken, teamNotFound, teamRole, teamsOf, type Caller } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import { findProject } from '../../projects/index.js';
import type { Db, Token } from '../../store/index.js';
import { audit } from '../guard.js';
import { finishPage, pageRequest, type PageQuery } from '../pagination.js';
import { tokenSchemas } from '../schemas/accounts.js';
import { objectBody, type ApiDeps } from '../server.js';

/**
 * API tokens: personal ones (act as their person, optionally on one team only) and project
 * deploy tokens (read and deploy one project, for CI). The token is in the creation answer
 * once; the store keeps its sha256.
 */
export function tokenRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store } = deps;
  return async (app) => {
    // newest first, keyed by (created_at, id): two tokens made in the same millisecond still page apart
    app.get<{ Querystring: PageQuery }>('/tokens', { schema: tokenSchemas.list, config: { access: { caller: 'person' } } }, async (req) => {
      const page = pageRequest(req.query, 2);
      let q = ownTokens(store.db, req.caller!).where('revoked_at', 'is', null);
      if (page.after !== undefined) {
        const [at, id] = [Number(page.after[0]), String(page.after[1])];
        q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
      }
      const rows = await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
      const { items, nextCursor } = finishPage(rows, page.limit, (t) => [Number(t.created_at), t.id]);
      const out = [];
      for (const row of items) out.push(serializeToken(row, await names(store.db, row)));
      return { tokens: out, nextCursor };
    });

    // {"name", "team"?, "project"?, "expiresAt"?}: with "project", a deploy token for it
    app.post('/tokens', { schema: tokenSchemas.create, config: { access: { caller: 'person' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const caller = req.caller!;
      const name = checkTokenName(body.name);
      const expiresAt = checkExpiry(body.expiresAt);
      const userId = caller.kind === 'user' ? caller.user.id : null;
      const made = await store.tx(async (db) => {
        if (body.project !== undefined) {
          if (typeof body.project !== 'string') throw new AppError('VALIDATION', 'project must be a project name.', { hint: 'For example: {"name": "ci", "project": "blog"}' });
          const project = await findProject(db, body.project);
          const role = project === undefined ? undefined : await projectTeamRole(db, caller, project);
          if (project === undefined || role === undefined) throw projectNotFound(body.project);
          if (!atLeast(role, 'member'))
            throw new AppError('FORBIDDEN', `A deploy token for "${project.name}" needs the member role; you are a ${role} there.`, { hint: 'Ask an owner of the team to change your role.' });
          const made = await insertToken(db, { kind: 'deploy', name, userId, teamId: project.team_id, projectId: project.id, expiresAt });
          await audit(db, req, project.team_id, { action: 'token.create', target: name, details: { tokenId: made.row.id, kind: 'deploy', project: project.name } });
          return made;
        }
        if (caller.kind !== 'user')
          throw new AppError('VALIDATION', 'The installation admin has no personal tokens.', { hint: 'Use the admin token itself, or make a deploy token: {"name", "project"}.' });
        // a team-scoped token can only make tokens for its own team
        const scope = caller.token?.team_id ?? null;
        let teamId: string | null = scope;
        if (body.team !== undefined && body.team !== null) {
          const team = typeof body.team === 'string' ? await findTeam(db, body.team) : undefined;
          if (team === undefined || (await teamRole(db, caller, team.id)) === undefined) throw teamNotFound(String(body.team));
          teamId = team.id;
        }
        const made = await insertToken(db, { kind: 'personal', name, userId, teamId, projectId: null, expiresAt });
        const teams = teamId === null ? (await teamsOf(db, caller.user.id)).map((t) => t.id) : [teamId];
        for (const id of teams) await audit(db, req, id, { action: 'token.create', target: name, details: { tokenId: made.row.id, kind: 'personal' } });
        return made;
      });
      return reply.code(201).send({ token: made.token, ...serializeToken(made.row, await names(store.db, made.row)) });
    });

    // revocation takes effect at once: every request looks its token up
    app.delete<{ Params: { id: string } }>('/tokens/:id', { schema: tokenSchemas.revoke, config: { access: { caller: 'person' } } }, async (req, reply) => {
      await store.tx(async (db) => {
        const row = await ownTokens(db, req.caller!).where('id', '=', req.params.id).where('revoked_at', 'is', null).executeTakeFirst();
        if (row === undefined) throw new AppError('TOKEN_NOT_FOUND', `No token ${JSON.stringify(req.params.id)}.`);
        await db.updateTable('tokens').set({ revoked_at: Date.now() }).where('id', '=', row.id).execute();
        const teams = row.team_id !== null ? [row.team_id] : row.user_id === null ? [] : (await teamsOf(db, row.user_id)).map((t) => t.id);
        for (const id of teams) await audit(db, req, id, { action: 'token.revoke', target: row.name, details: { tokenId: row.id, kind: row.kind } });
      });
      return reply.code(204).send();
    });
  };
}

/** The tokens a caller owns: a person's own, or the admin's (deploy tokens it made). */
function ownTokens(db: Db, caller: Caller) {
  const q = db.selectFrom('tokens').selectAll();
  return caller.kind === 'user' ? q.where('user_id', '=', caller.user.id) : q.where('user_id', 'is', null);
}

async function names(db: Db, row: Token): Promise<{ team: string | null; project: string | null }> {
  const team = row.team_id === null ? undefined : await db.selectFrom('teams').select('slug').where('id', '=', row.team_id).executeTakeFirst();
  const project = row.project_id === null ? undefined : await db.selectFrom('projects').select('name').where('id', '=', row.project_id).executeTakeFirst();
  return { team: team?.slug ?? null, project: project?.name ?? null };
}
