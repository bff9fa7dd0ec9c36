import type { FastifyPluginAsync } from 'fastify';
import { checkRole, insertUser, normaliseEmail, prepareUser, randomSecret, recordAudit, roleOf, serializeUser, setMembership, sha256 } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import { newId } from '../../ids.js';
import type { Db, Invitation, User } from '../../store/index.js';
import { audit } from '../guard.js';
import { invitationSchemas } from '../schemas/accounts.js';
import { objectBody, type ApiDeps } from '../server.js';

const INVITATION_MS = 7 * 86_400_000;

/**
 * Team invitations: a one-time link with an expiry, shown to the owner who made it (no mail
 * server needed). The store keeps the link token's sha256 only.
 */
export function invitationRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store } = deps;
  return async (app) => {
    // {"role", "email"?}: with an email, only that address may accept it
    app.post<{ Params: { team: string } }>('/teams/:team/invitations', { schema: invitationSchemas.create, config: { access: { team: 'team', role: 'owner' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const team = req.grant.team!;
      const role = checkRole(body.role);
      const email = body.email === undefined || body.email === null ? null : normaliseEmail(body.email);
      const token = randomSecret();
      const invitation: Invitation = {
        id: newId('i'),
        hash: sha256(token),
        team_id: team.id,
        role,
        email,
        created_by: req.caller!.kind === 'user' ? req.caller!.user.id : 'admin',
        created_at: Date.now(),
        expires_at: Date.now() + INVITATION_MS,
        accepted_at: null,
        accepted_by: null,
      };
      await store.tx(async (db) => {
        await db.insertInto('invitations').values(invitation).execute();
        await audit(db, req, team.id, { action: 'invitation.create', target: email ?? '(anyone with the link)', details: { invitationId: invitation.id, role } });
      });
      return reply.code(201).send({ url: `${config.publicUrl}/invite/${token}`, token, team: team.slug, role, email, expiresAt: new Date(invitation.expires_at).toISOString() });
    });

    // what the link is for, so the page can say which team it joins
    app.get<{ Params: { token: string } }>('/invitations/:token', { schema: invitationSchemas.show, config: { access: { public: true } } }, async (req) => {
      const { invitation, team } = await openInvitation(store.db, req.params.token);
      return { team: { slug: team.slug, name: team.name }, role: invitation.role, email: invitation.email, expiresAt: new Date(Number(invitation.expires_at)).toISOString() };
    });

    // a new person: {"email","password","name"?}; someone with an account: while logged in (session or token)
    app.post<{ Params: { token: string } }>('/invitations/:token/accept', { schema: invitationSchemas.accept, config: { access: { public: true, session: 'optional' } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const caller = req.caller;
      const asSelf = caller?.kind === 'user' && body.password === undefined ? caller.user : undefined;
      // a wrong link is refused before the new password is hashed
      await openInvitation(store.db, req.params.token);
      const prepared = asSelf === undefined ? await prepareUser(body) : undefined;
      const result = await store.tx(async (db) => {
        const { invitation, team } = await openInvitation(db, req.params.token);
        const user: User = asSelf ?? (await insertUser(db, prepared!));
        if (invitation.email !== null && invitation.email !== user.email)
          throw new AppError('FORBIDDEN', `This invitation is for ${invitation.email}.`, { hint: 'Log in as that person, or ask for an invitation for your address.' });
        if ((await roleOf(db, team.id, user.id)) !== undefined) throw new AppError('CONFLICT', `${user.email} is already in team "${team.slug}".`);
        // one use: a second accept of the same link finds it taken
        const taken = await db.updateTable('invitations').set({ accepted_at: Date.now(), accepted_by: user.id }).where('id', '=', invitation.id).where('accepted_at', 'is', null).executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1) throw invitationNotFound();
        await setMembership(db, team.id, user.id, invitation.role);
        await recordAudit(db, team.id, { kind: 'user', via: 'session', user }, req.ip, {
          action: 'member.add',
          target: user.email,
          details: { userId: user.id, role: invitation.role, invitationId: invitation.id },
        });
        return { user: serializeUser(user), team: { slug: team.slug, name: team.name, role: invitation.role } };
      });
      return reply.code(201).send(result);
    });
  };
}

function invitationNotFound(): AppError {
  return new AppError('INVITATION_NOT_FOUND', 'This invitation link is not valid: it is wrong, used or expired.');
}

async function openInvitation(db: Db, token: string) {
  const invitation = await db.selectFrom('invitations').selectAll().where('hash', '=', sha256(token)).executeTakeFirst();
  if (invitation === undefined || invitation.accepted_at !== null || Number(invitation.expires_at) <= Date.now()) throw invitationNotFound();
  const team = await db.selectFrom('teams').selectAll().where('id', '=', invitation.team_id).executeTakeFirstOrThrow();
  return { invitation, team };
}
