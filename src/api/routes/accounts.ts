import type { FastifyPluginAsync } from 'fastify';
import {
  allTeams,
  checkRole,
  createTeam,
  findTeam,
  findUser,
  findUserByEmail,
  insertUser,
  keepAnOwner,
  normaliseEmail,
  prepareUser,
  readAudit,
  roleOf,
  serializeUser,
  setMembership,
  teamNotFound,
  teamsOf,
} from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import type { Db, Team } from '../../store/index.js';
import { audit } from '../guard.js';
import { finishPage, pageByKey, pageRequest, type PageQuery } from '../pagination.js';
import { accountSchemas } from '../schemas/accounts.js';
import { objectBody, type ApiDeps } from '../server.js';

type TeamParams = { Params: { team: string } };
type MemberParams = { Params: { team: string; userId: string } };

/** Users (installation admin), teams, their members and their audit trail. */
export function accountRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store } = deps;
  return async (app) => {
    // {"email","password","name"?} and, to put them in a team at once, {"team","role"}
    app.post('/users', { schema: accountSchemas.createUser, config: { access: { caller: 'admin' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const prepared = await prepareUser(body);
      const user = await store.tx(async (db) => {
        const made = await insertUser(db, prepared);
        if (body.team !== undefined) {
          const team = typeof body.team === 'string' ? await findTeam(db, body.team) : undefined;
          if (team === undefined) throw teamNotFound(String(body.team));
          const role = checkRole(body.role ?? 'member');
          await setMembership(db, team.id, made.id, role);
          await audit(db, req, team.id, { action: 'member.add', target: made.email, details: { userId: made.id, role } });
        }
        return made;
      });
      return reply.code(201).send(serializeUser(user));
    });

    app.get<{ Querystring: PageQuery }>('/users', { schema: accountSchemas.listUsers, config: { access: { caller: 'admin' } } }, async (req) => {
      const page = pageRequest(req.query, 1);
      let q = store.db.selectFrom('users').selectAll();
      if (page.after !== undefined) q = q.where('email', '>', String(page.after[0]));
      const { items, nextCursor } = finishPage(
        await q
          .orderBy('email')
          .limit(page.limit + 1)
          .execute(),
        page.limit,
        (u) => [u.email],
      );
      return { users: items.map((u) => ({ ...serializeUser(u), createdAt: new Date(Number(u.created_at)).toISOString() })), nextCursor };
    });

    app.get<{ Querystring: PageQuery }>('/teams', { schema: accountSchemas.listTeams, config: { access: { caller: 'person' } } }, async (req) => {
      const caller = req.caller!;
      const page = pageRequest(req.query, 1);
      let teams: { slug: string; name: string; role: string }[] = [];
      if (caller.kind === 'admin') teams = (await allTeams(store.db)).map((t) => ({ slug: t.slug, name: t.name, role: 'owner' }));
      else if (caller.kind === 'user') {
        const scope = caller.token?.team_id;
        teams = (await teamsOf(store.db, caller.user.id)).filter((t) => scope == null || t.id === scope).map((t) => ({ slug: t.slug, name: t.name, role: t.role }));
      }
      const { items, nextCursor } = pageByKey(teams, page, (t) => t.slug);
      return { teams: items, nextCursor };
    });

    // the caller becomes its owner (the installation admin is an owner of every team already)
    app.post('/teams', { schema: accountSchemas.createTeam, config: { access: { caller: 'person' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const caller = req.caller!;
      const team = await store.tx((db) => createTeam(db, body, caller.kind === 'user' ? caller.user : undefined));
      return reply.code(201).send({ slug: team.slug, name: team.name, role: 'owner' });
    });

    // Delete a team: only an empty one (its projects are deleted or moved first), so no site goes
    // dark by one click; its memberships, invitations, team-scoped tokens and audit trail go with it (cascade).
    app.delete<TeamParams>('/teams/:team', { schema: accountSchemas.deleteTeam, config: { access: { team: 'team', role: 'owner' } } }, async (req, reply) => {
      const team = req.grant.team!;
      await store.tx(async (db) => {
        const projects = await db.selectFrom('projects').select('name').where('team_id', '=', team.id).orderBy('name').limit(6).execute();
        if (projects.length > 0) {
          const names = projects.slice(0, 5).map((p) => p.name);
          throw new AppError('TEAM_NOT_EMPTY', `Team "${team.slug}" still has projects: ${names.join(', ')}${projects.length > 5 ? ', …' : ''}.`, {
            hint: 'Delete them first (slipway projects rm <name>), then delete the team.',
          });
        }
        await db.deleteFrom('teams').where('id', '=', team.id).execute();
      });
      return reply.code(204).send();
    });

    app.get<TeamParams & { Querystring: PageQuery }>('/teams/:team/members', { schema: accountSchemas.listMembers, config: { access: { team: 'team', role: 'viewer' } } }, async (req) => {
      const { items, nextCursor } = pageByKey(await members(store.db, req.grant.team!), pageRequest(req.query, 1), (m) => m.email);
      return { members: items, nextCursor };
    });

    // an existing account; a new person gets an invitation link (POST /teams/<team>/invitations)
    app.post<TeamParams>('/teams/:team/members', { schema: accountSchemas.addMember, config: { access: { team: 'team', role: 'owner' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const team = req.grant.team!;
      const email = normaliseEmail(body.email);
      const role = checkRole(body.role);
      const added = await store.tx(async (db) => {
        const user = await findUserByEmail(db, email);
        if (user === undefined)
          throw new AppError('USER_NOT_FOUND', `No account for ${email}.`, { hint: 'Send them an invitation link instead: POST /api/v1/teams/<team>/invitations {"role","email"}.' });
        if ((await roleOf(db, team.id, user.id)) !== undefined)
          throw new AppError('CONFLICT', `${email} is already in team "${team.slug}".`, { hint: 'Change their role with PATCH /api/v1/teams/<team>/members/<userId> {"role"}.' });
        await setMembership(db, team.id, user.id, role);
        await audit(db, req, team.id, { action: 'member.add', target: user.email, details: { userId: user.id, role } });
        return { ...serializeUser(user), role };
      });
      return reply.code(201).send(added);
    });

    app.patch<MemberParams>('/teams/:team/members/:userId', { schema: accountSchemas.changeMember, config: { access: { team: 'team', role: 'owner' } } }, async (req) => {
      const body = objectBody(req.body);
      const team = req.grant.team!;
      const role = checkRole(body.role);
      return store.tx(async (db) => {
        const { user, current } = await member(db, team, req.params.userId);
        if (current === 'owner' && role !== 'owner') await keepAnOwner(db, team.id, user.id);
        await setMembership(db, team.id, user.id, role);
        await audit(db, req, team.id, { action: 'member.update', target: user.email, details: { userId: user.id, from: current, role } });
        return { ...serializeUser(user), role };
      });
    });

    app.delete<MemberParams>('/teams/:team/members/:userId', { schema: accountSchemas.removeMember, config: { access: { team: 'team', role: 'owner' } } }, async (req, reply) => {
      const team = req.grant.team!;
      await store.tx(async (db) => {
        const { user, current } = await member(db, team, req.params.userId);
        if (current === 'owner') await keepAnOwner(db, team.id, user.id);
        await db.deleteFrom('memberships').where('team_id', '=', team.id).where('user_id', '=', user.id).execute();
        // their tokens scoped to this team can do nothing any more: revoke them so lists say so
        await db.updateTable('tokens').set({ revoked_at: Date.now() }).where('user_id', '=', user.id).where('team_id', '=', team.id).where('revoked_at', 'is', null).execute();
        await audit(db, req, team.id, { action: 'member.remove', target: user.email, details: { userId: user.id, role: current } });
      });
      return reply.code(204).send();
    });

    app.get<TeamParams & { Querystring: { cursor?: string; limit?: string } }>(
      '/teams/:team/audit',
      { schema: accountSchemas.audit, config: { access: { team: 'team', role: 'viewer' } } },
      async (req) => {
        const limit = Math.min(200, Math.max(1, Number(req.query.limit ?? 50) || 50));
        return readAudit(store.db, req.grant.team!.id, req.query.cursor, limit);
      },
    );
  };
}

async function members(db: Db, team: Team) {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.team_id', '=', team.id)
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ id: r.id, email: r.email, name: r.name, role: r.role, since: new Date(Number(r.created_at)).toISOString() }));
}

async function member(db: Db, team: Team, userId: string) {
  const user = await findUser(db, userId);
  const current = user === undefined ? undefined : await roleOf(db, team.id, user.id);
  if (user === undefined || current === undefined)
    throw new AppError('USER_NOT_FOUND', `Team "${team.slug}" has no member ${JSON.stringify(userId)}.`, { hint: 'List the members with GET /api/v1/teams/<team>/members.' });
  return { user, current };
}
