import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/index.js';
import { formatAddress, mailAddressOf, makeMailAddress, removeMailAddress } from '../../mail/index.js';
import {
  createEndpoint,
  emailOf,
  findDelivery,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  removeEndpoint,
  resendDelivery,
  serializeDelivery,
  serializeEndpoint,
  type Scope,
} from '../../notify/index.js';
import { audit } from '../guard.js';
import { finishPage, pageByKey, pageRequest, type PageQuery } from '../pagination.js';
import { notificationSchemas } from '../schemas/notifications.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectReq = { Params: { project: string } };
type TeamReq = { Params: { team: string } };

/**
 * Notification endpoints, their deliveries and re-sends, for a project (its own and its team's
 * are listed) and for a team (every project). Reading needs viewer; changing needs member for a
 * project, owner for a team. The deploy-by-email address of a project (owner) is here too.
 */
export function notificationRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box, config } = deps;

  /** the scope of a request, from the project or team the access check found */
  const scopeOf = (req: FastifyRequest): Scope => {
    const project = req.grant.project;
    if (project !== undefined) {
      if (project.team_id === null) throw new AppError('VALIDATION', `Project ${project.name} belongs to no team, so it has no notifications.`, { hint: 'Move it into a team first.' });
      return { teamId: project.team_id, projectId: project.id };
    }
    return { teamId: req.grant.team!.id };
  };
  const what = (req: FastifyRequest) => (req.grant.project === undefined ? { team: req.grant.team!.slug } : { project: req.grant.project.name });

  return async (app) => {
    for (const level of ['project', 'team'] as const) {
      const base = level === 'project' ? '/projects/:project/notifications' : '/teams/:team/notifications';
      const schemas = notificationSchemas[level];
      const read = level === 'project' ? ({ project: 'project', role: 'viewer' } as const) : ({ team: 'team', role: 'viewer' } as const);
      const change = level === 'project' ? ({ project: 'project', role: 'member' } as const) : ({ team: 'team', role: 'owner' } as const);

      app.get<ProjectReq & TeamReq & { Querystring: PageQuery }>(base, { schema: schemas.list, config: { access: read } }, async (req) => {
        const rows = await listEndpoints(store.db, scopeOf(req));
        const shown = await Promise.all(rows.map(async (r) => serializeEndpoint(r, await emailOf(store.db, r.user_id))));
        const page = pageByKey(shown, pageRequest(req.query, 1), (e) => e.id);
        return { notifications: page.items, nextCursor: page.nextCursor };
      });

      app.post<ProjectReq & TeamReq>(base, { schema: schemas.create, config: { access: change } }, async (req, reply) => {
        const scope = scopeOf(req);
        const userId = req.caller?.kind === 'user' ? req.caller.user.id : null;
        const made = await store.tx(async (db) => {
          const made = await createEndpoint(db, box, scope, objectBody(req.body), { userId });
          // the URL is not in the trail: a Slack URL is a credential
          await audit(db, req, scope.teamId, { action: 'notification.add', target: made.row.id, details: { ...what(req), kind: made.row.kind } });
          return made;
        });
        reply.code(201);
        return { ...serializeEndpoint(made.row, await emailOf(store.db, made.row.user_id)), ...(made.secret === undefined ? {} : { signingSecret: made.secret }) };
      });

      app.delete<{ Params: { project: string; team: string; endpoint: string } }>(`${base}/:endpoint`, { schema: schemas.remove, config: { access: change } }, async (req, reply) => {
        const scope = scopeOf(req);
        await store.tx(async (db) => {
          const row = await findEndpoint(db, scope, req.params.endpoint);
          await removeEndpoint(db, row.id);
          await audit(db, req, scope.teamId, { action: 'notification.remove', target: row.id, details: { ...what(req), kind: row.kind } });
        });
        return reply.code(204).send();
      });

      app.get<ProjectReq & TeamReq & { Querystring: PageQuery & { endpoint?: string } }>(`${base}/deliveries`, { schema: schemas.deliveries, config: { access: read } }, async (req) => {
        const page = pageRequest(req.query, 2);
        const rows = await listDeliveries(store.db, scopeOf(req), { limit: page.limit + 1, after: page.after, ...(req.query.endpoint === undefined ? {} : { endpointId: req.query.endpoint }) });
        const done = finishPage(rows, page.limit, (d) => [Date.parse(d.createdAt!), d.id]);
        return { deliveries: done.items, nextCursor: done.nextCursor };
      });

      app.post<{ Params: { project: string; team: string; delivery: string } }>(`${base}/deliveries/:delivery/resend`, { schema: schemas.resend, config: { access: change } }, async (req, reply) => {
        const scope = scopeOf(req);
        const made = await store.tx(async (db) => {
          const original = await findDelivery(db, scope, req.params.delivery);
          const made = await resendDelivery(db, original);
          await audit(db, req, scope.teamId, { action: 'notification.resend', target: made.id, details: { ...what(req), delivery: original.id } });
          return made;
        });
        const event = await store.db.selectFrom('notification_events').select(['type', 'deployment_id']).where('id', '=', made.event_id).executeTakeFirstOrThrow();
        reply.code(202);
        return serializeDelivery(made, event.type, event.deployment_id, []);
      });
    }

    app.get<ProjectReq>('/projects/:project/mail-address', { schema: notificationSchemas.mailAddress, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const row = await mailAddressOf(store.db, req.grant.project!.id);
      const recent = await store.db.selectFrom('inbound_mail').selectAll().where('project_id', '=', req.grant.project!.id).orderBy('received_at', 'desc').limit(20).execute();
      return {
        enabled: row !== undefined,
        address: null,
        createdAt: row === undefined ? null : new Date(Number(row.created_at)).toISOString(),
        recent: recent.map((m) => ({
          sender: m.sender,
          spf: m.spf,
          dkim: m.dkim,
          command: m.command,
          outcome: m.outcome,
          deploymentId: m.deployment_id,
          receivedAt: new Date(Number(m.received_at)).toISOString(),
        })),
      };
    });

    app.post<ProjectReq>('/projects/:project/mail-address', { schema: notificationSchemas.makeMailAddress, config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
      const project = req.grant.project!;
      const token = await store.tx(async (db) => {
        const token = await makeMailAddress(db, project.id);
        await audit(db, req, project.team_id, { action: 'mail-address.make', target: project.id, details: { project: project.name } });
        return token;
      });
      reply.code(201);
      return { enabled: true, address: formatAddress(project.name, token, config.mail.domain), createdAt: new Date().toISOString() };
    });

    app.delete<ProjectReq>('/projects/:project/mail-address', { schema: notificationSchemas.removeMailAddress, config: { access: { project: 'project', role: 'owner' } } }, async (req, reply) => {
      const project = req.grant.project!;
      await store.tx(async (db) => {
        await removeMailAddress(db, project.id);
        await audit(db, req, project.team_id, { action: 'mail-address.remove', target: project.id, details: { project: project.name } });
      });
      return reply.code(204).send();
    });
  };
}
