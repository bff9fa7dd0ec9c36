import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import {
  allTeams,
  checkLoginLimit,
  clearAccountFailures,
  createSession,
  dummyHash,
  endAllSessions,
  endSession,
  fromToken,
  hashPassword,
  needsRehash,
  recordAttempt,
  recordAudit,
  serializeUser,
  SESSION_MAX_MS,
  sessionCookie,
  teamsOf,
  verifyPassword,
  type Caller,
} from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import type { Db, User } from '../../store/index.js';
import { authSchemas } from '../schemas/accounts.js';
import { objectBody, type ApiDeps } from '../server.js';

const ADMIN_USER = { id: 'admin', email: null, name: 'Installation admin' };
const LOGIN_FAILED = 'Wrong email or password.';

/** Log in (email + password, or a token) to a cookie session; log out; who am I. */
export function authRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, adminToken } = deps;
  const secure = config.publicUrl.startsWith('https:');
  // made now, so the first login for an unknown email costs no more than the next ones
  void dummyHash();
  return async (app) => {
    app.post('/auth/login', { schema: authSchemas.login, config: { access: { public: true } } }, async (req, reply) => {
      const body = objectBody(req.body);
      const ip = req.ip;
      if (body.token !== undefined) {
        if (typeof body.token !== 'string' || body.token === '') throw new AppError('VALIDATION', 'token must be a string.', { hint: 'For example: {"token": "slp_pat_..."}' });
        // token logins count against the address like password logins (the key is the address alone)
        await limit(store.db, '', ip, reply);
        const caller = await fromToken(store.db, adminToken, body.token).catch(() => undefined);
        const ok = caller !== undefined && caller.kind !== 'deploy';
        await store.tx((db) => recordAttempt(db, '', ip, false));
        if (!ok) throw new AppError('LOGIN_FAILED', 'The token is not valid.');
        return startSession(reply, caller, ip);
      }
      if (typeof body.email !== 'string' || typeof body.password !== 'string') {
        throw new AppError('VALIDATION', 'Log in with "email" and "password" (or "token").', { hint: 'For example: {"email": "ada@example.com", "password": "..."}' });
      }
      const email = body.email.trim().toLowerCase();
      await limit(store.db, email, ip, reply);
      const user = await store.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      // an unknown email verifies against a dummy hash: it costs the same time as a wrong password
      const matches = await verifyPassword(body.password, user?.password_hash ?? (await dummyHash()));
      const ok = user !== undefined && matches;
      await store.tx(async (db) => {
        await recordAttempt(db, email, ip, !ok);
        if (ok) await clearAccountFailures(db, email);
        if (ok && needsRehash(user.password_hash))
          await db
            .updateTable('users')
            .set({ password_hash: await hashPassword(body.password as string) })
            .where('id', '=', user.id)
            .execute();
      });
      if (!ok) throw new AppError('LOGIN_FAILED', LOGIN_FAILED);
      return startSession(reply, { kind: 'user', via: 'session', user }, ip);
    });

    async function startSession(reply: FastifyReply, caller: Caller, ip: string) {
      const user = caller.kind === 'user' ? caller.user : undefined;
      const { id, csrf } = await store.tx(async (db) => {
        const made = await createSession(db, user?.id ?? null, ip);
        // the login is in the trail of every team the person is in
        const teams = user === undefined ? await allTeams(db) : await teamsOf(db, user.id);
        for (const team of teams)
          await recordAudit(db, team.id, caller, ip, { action: 'auth.login', target: user?.email ?? 'admin', details: { method: caller.via === 'token' ? 'token' : 'password' } });
        return made;
      });
      void reply.header('set-cookie', sessionCookie(id, secure, Math.floor(SESSION_MAX_MS / 1000))).header('cache-control', 'no-store');
      return { user: user === undefined ? ADMIN_USER : serializeUser(user), csrfToken: csrf };
    }

    app.post('/auth/logout', { schema: authSchemas.logout, config: { access: { caller: 'person' } } }, async (req, reply) => {
      const caller = req.caller!;
      const session = caller.kind === 'deploy' ? undefined : caller.session;
      if (session === undefined)
        throw new AppError('BAD_REQUEST', 'Logging out ends a browser session; this request has none.', {
          hint: 'To stop a token working, revoke it: DELETE /api/v1/tokens/<id> (slipway tokens rm <id>).',
        });
      await store.tx((db) => endSession(db, session.id_hash));
      return reply
        .code(204)
        .header('set-cookie', sessionCookie('', secure, 0))
        .send();
    });

    // every session of the caller's account, this one included
    app.post('/auth/logout-everywhere', { schema: authSchemas.logoutEverywhere, config: { access: { caller: 'person' } } }, async (req, reply) => {
      const caller = req.caller!;
      const ended = await store.tx((db) => endAllSessions(db, caller.kind === 'user' ? caller.user.id : null));
      return reply.header('set-cookie', sessionCookie('', secure, 0)).send({ sessionsEnded: ended });
    });

    app.get('/me', { schema: authSchemas.me, config: { access: { caller: 'person' } } }, async (req) => {
      const caller = req.caller!;
      const csrf = caller.kind !== 'deploy' && caller.session !== undefined ? { csrfToken: caller.session.csrf } : {};
      if (caller.kind === 'admin') {
        const teams = (await allTeams(store.db)).map((t) => ({ slug: t.slug, name: t.name, role: 'owner' as const }));
        return { user: ADMIN_USER, admin: true, teams, ...csrf };
      }
      const user = (caller as { user: User }).user;
      const scope = caller.kind === 'user' ? caller.token?.team_id : null;
      const teams = (await teamsOf(store.db, user.id)).filter((t) => scope == null || t.id === scope).map((t) => ({ slug: t.slug, name: t.name, role: t.role }));
      return { user: serializeUser(user), admin: false, teams, ...csrf };
    });
  };
}

/** 429 with Retry-After when the account (email; '' for token logins) or the address is over its window. */
async function limit(db: Db, email: string, ip: string, reply: FastifyReply): Promise<void> {
  const verdict = await checkLoginLimit(db, email === '' ? `token@${ip}` : email, ip);
  if (!verdict.limited) return;
  void reply.header('retry-after', String(verdict.retryAfterSeconds));
  throw new AppError('RATE_LIMITED', `Too many login attempts; try again in ${verdict.retryAfterSeconds} s.`);
}
