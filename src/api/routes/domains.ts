import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { checkDomainDns, deleteDomain, domainKey, findDomain, getProjectDomain, insertDomain, listProjectDomains, recordDnsCheck, serializeDomain, validateDomainRequest } from '../../domains/index.js';
import { AppError } from '../../errors/index.js';
import { getProject } from '../../projects/index.js';
import type { Db, Domain } from '../../store/index.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type DomainParams = { Params: { project: string; name: string } };

/**
 * May the caller see this project? The one place a domain clash decides whether to name the
 * owner. Today the only caller is the admin token, which sees every project; teams (issue 10)
 * answer it from the caller's memberships.
 */
export function callerMaySeeProject(_req: FastifyRequest, _projectId: string): boolean {
  return true;
}

/** Custom domains of a project: add (first DNS check included), list, show, remove, verify now. */
export function domainRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store } = deps;
  return async (app) => {
    app.post<ProjectParams>('/projects/:project/domains', async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      const request = validateDomainRequest(objectBody(req.body), config.baseDomain);
      // db: the caller's (inside the insert's transaction, the one connection SQLite has is taken)
      const taken = async (db: Db, owner: Domain): Promise<never> => {
        if (owner.project_id === project.id) {
          throw new AppError('DOMAIN_TAKEN', `${owner.name} is already a domain of project "${project.name}".`, { hint: `See it with: slipway domains ls ${project.name}; to change it, remove it and add it again.` });
        }
        if (!callerMaySeeProject(req, owner.project_id)) throw new AppError('DOMAIN_TAKEN', `${owner.name} is already in use by another project.`, { hint: 'Ask whoever owns it to remove it, then add it again.' });
        const ownerName = (await db.selectFrom('projects').select('name').where('id', '=', owner.project_id).executeTakeFirst())?.name ?? owner.project_id;
        throw new AppError('DOMAIN_TAKEN', `${owner.name} already belongs to project "${ownerName}".`, { hint: `Remove it there first: slipway domains rm ${ownerName} ${owner.name}` });
      };
      // refuse a clash before asking DNS; the insert looks again inside its transaction
      const existing = await findDomain(store.db, request.name);
      if (existing !== undefined) await taken(store.db, existing);
      const check = await checkDomainDns(config, request.name);
      const domain = await store.tx((db) => insertDomain(db, config, project, request, check, taken));
      return reply.code(201).send(serializeDomain(config, domain, project.name));
    });

    app.get<ProjectParams>('/projects/:project/domains', async (req) => {
      const project = await getProject(store.db, req.params.project);
      const domains = await listProjectDomains(store.db, project);
      return { domains: domains.map((d) => serializeDomain(config, d, project.name)) };
    });

    app.get<DomainParams>('/projects/:project/domains/:name', async (req) => {
      const project = await getProject(store.db, req.params.project);
      const domain = await getProjectDomain(store.db, project, domainKey(req.params.name, config.baseDomain));
      return serializeDomain(config, domain, project.name);
    });

    app.delete<DomainParams>('/projects/:project/domains/:name', async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      await store.tx((db) => deleteDomain(db, project, domainKey(req.params.name, config.baseDomain)));
      return reply.code(204).send();
    });

    // Check DNS now (after creating the record) instead of waiting for the background recheck.
    app.post<DomainParams>('/projects/:project/domains/:name/verify', async (req) => {
      const project = await getProject(store.db, req.params.project);
      const domain = await getProjectDomain(store.db, project, domainKey(req.params.name, config.baseDomain));
      const check = await checkDomainDns(config, domain.name);
      const updated = await store.tx((db) => recordDnsCheck(db, config, domain.name, check, true));
      if (updated === undefined) throw new AppError('DOMAIN_NOT_FOUND', `Project "${project.name}" has no domain "${domain.name}" any more.`);
      return serializeDomain(config, updated, project.name);
    });
  };
}
