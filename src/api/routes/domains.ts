import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  checkDomainDns,
  deleteDomain,
  domainKey,
  findDomain,
  getProjectDomain,
  insertDomain,
  listProjectDomains,
  recordDnsCheck,
  serializeDomain,
  validateDomainRequest,
} from '../../domains/index.js';
import { getEnvironment } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import { projectTeamRole } from '../../auth/index.js';
import { getProject } from '../../projects/index.js';
import type { Db, Domain, Project } from '../../store/index.js';
import { addAwsDomain, awsDomainViews, awsSlotFor, awsSlotOfDomain, removeAwsDomain, showAwsDomain, verifyAwsDomain } from '../../targets/aws/index.js';
import { audit } from '../guard.js';
import { pageByKey, pageRequest, type PageQuery } from '../pagination.js';
import { domainSchemas } from '../schemas/resources.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type DomainParams = { Params: { project: string; name: string } };

/**
 * May the caller see this project? The one place a domain clash decides whether to name the
 * owner: only a caller with a role on the owning project's team learns its name.
 */
export async function callerMaySeeProject(db: Db, req: FastifyRequest, projectId: string): Promise<boolean> {
  const project = await db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirst();
  return project !== undefined && req.caller !== undefined && (await projectTeamRole(db, req.caller, project)) !== undefined;
}

/** Custom domains of a project: add (first DNS check included), list, show, remove, verify now. */
export function domainRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store } = deps;
  // a domain CloudFront serves (the project goes live on AWS) shows the AWS records instead of the edge's
  const show = async (project: Project, domains: Domain[]) => {
    const views = await awsDomainViews(store.db, project.id);
    return domains.map((d) => {
      const shown = serializeDomain(config, d, project.name);
      const view = views.get(d.name);
      return view === undefined ? shown : showAwsDomain(shown, view);
    });
  };
  const showOne = async (project: Project, domain: Domain) => (await show(project, [domain]))[0];
  return async (app) => {
    app.post<ProjectParams>('/projects/:project/domains', { schema: domainSchemas.add, config: { access: { project: 'project', role: 'member' } } }, async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      const request = validateDomainRequest(objectBody(req.body), config.baseDomain);
      // a named environment must exist (production always does)
      await getEnvironment(store.db, project, request.environment);
      // db: the caller's (inside the insert's transaction, the one connection SQLite has is taken)
      const taken = async (db: Db, owner: Domain): Promise<never> => {
        if (owner.project_id === project.id) {
          throw new AppError('DOMAIN_TAKEN', `${owner.name} is already a domain of project "${project.name}".`, {
            hint: `See it with: slipway domains ls ${project.name}; to change it, remove it and add it again.`,
          });
        }
        if (!(await callerMaySeeProject(db, req, owner.project_id)))
          throw new AppError('DOMAIN_TAKEN', `${owner.name} is already in use by another project.`, { hint: 'Ask whoever owns it to remove it, then add it again.' });
        const ownerName = (await db.selectFrom('projects').select('name').where('id', '=', owner.project_id).executeTakeFirst())?.name ?? owner.project_id;
        throw new AppError('DOMAIN_TAKEN', `${owner.name} already belongs to project "${ownerName}".`, { hint: `Remove it there first: slipway domains rm ${ownerName} ${owner.name}` });
      };
      // refuse a clash before asking DNS; the insert looks again inside its transaction
      const existing = await findDomain(store.db, request.name);
      if (existing !== undefined) await taken(store.db, existing);
      const auditAdd = (db: Db, added: Domain) =>
        audit(db, req, project.team_id, {
          action: 'domain.add',
          target: added.name,
          details: { project: project.name, ...(added.redirect_to === null ? {} : { redirectTo: added.redirect_to }) },
        });
      // production on AWS: an ACM certificate and the CloudFront distribution instead of DNS + ACME
      const slot = await awsSlotFor(store.db, project, request.environment);
      if (slot !== undefined) {
        const added = await addAwsDomain(deps, project, slot, request, taken, auditAdd);
        return reply.code(201).send(await showOne(project, added));
      }
      const check = await checkDomainDns(config, request.name);
      const domain = await store.tx(async (db) => {
        const added = await insertDomain(db, config, project, request, check, taken);
        await auditAdd(db, added);
        return added;
      });
      return reply.code(201).send(serializeDomain(config, domain, project.name));
    });

    app.get<ProjectParams & { Querystring: PageQuery }>('/projects/:project/domains', { schema: domainSchemas.list, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const page = pageByKey(await listProjectDomains(store.db, project), pageRequest(req.query, 1), (d) => d.name);
      return { domains: await show(project, page.items), nextCursor: page.nextCursor };
    });

    app.get<DomainParams>('/projects/:project/domains/:name', { schema: domainSchemas.show, config: { access: { project: 'project', role: 'viewer' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const domain = await getProjectDomain(store.db, project, domainKey(req.params.name, config.baseDomain));
      return showOne(project, domain);
    });

    app.delete<DomainParams>('/projects/:project/domains/:name', { schema: domainSchemas.remove, config: { access: { project: 'project', role: 'member' } } }, async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      const key = domainKey(req.params.name, config.baseDomain);
      // on AWS the alias leaves the distribution first; if AWS refuses, the domain stays
      const domain = await getProjectDomain(store.db, project, key);
      const slot = await awsSlotOfDomain(store.db, domain.name);
      if (slot !== undefined) await removeAwsDomain(deps, slot, domain.name);
      await store.tx(async (db) => {
        const name = key;
        await deleteDomain(db, project, name);
        await audit(db, req, project.team_id, { action: 'domain.remove', target: name, details: { project: project.name } });
      });
      return reply.code(204).send();
    });

    // Check DNS now (after creating the record) instead of waiting for the background recheck.
    app.post<DomainParams>('/projects/:project/domains/:name/verify', { schema: domainSchemas.verify, config: { access: { project: 'project', role: 'member' } } }, async (req) => {
      const project = await getProject(store.db, req.params.project);
      const domain = await getProjectDomain(store.db, project, domainKey(req.params.name, config.baseDomain));
      const slot = await awsSlotOfDomain(store.db, domain.name);
      if (slot !== undefined) {
        const now = await verifyAwsDomain(deps, slot, domain.name);
        if (now === undefined) throw new AppError('DOMAIN_NOT_FOUND', `Project "${project.name}" has no domain "${domain.name}" any more.`);
        return showOne(project, now);
      }
      const check = await checkDomainDns(config, domain.name);
      const updated = await store.tx((db) => recordDnsCheck(db, config, domain.name, check, true));
      if (updated === undefined) throw new AppError('DOMAIN_NOT_FOUND', `Project "${project.name}" has no domain "${domain.name}" any more.`);
      return showOne(project, updated);
    });
  };
}
