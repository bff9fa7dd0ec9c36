import type { HostSettings, ResolvedHost, ResolvedSite, SiteLookup } from '../edge/types.js';
import { branchAlias, flagIntegrityError, prAlias, PRODUCTION } from '../deployments/index.js';
import { environmentAlias } from '../environments/index.js';
import { readCounter, type Store } from '../store/index.js';
// the file, not the folder's index: the edge must not load the AWS SDK the rest of the target uses
import { previewOrigin } from '../targets/aws/preview-origin.js';

export type HostRoute =
  | { kind: 'production'; project: string }
  /** `<prefix>--<project>`: a deployment id, a named environment, a branch slug or `pr-<n>` */
  | { kind: 'prefixed'; project: string; prefix: string };

/**
 * Parse a Host (lower-case, no port) under the base domain:
 * `blog.localhost` -> production of "blog"; `dk3v9x0q2m7a--blog.localhost` -> that deployment
 * or the branch alias with that slug. Anything else is not ours.
 */
export function parseHost(host: string, baseDomain: string): HostRoute | undefined {
  const suffix = `.${baseDomain}`;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  if (label === '' || label.includes('.')) return undefined;
  const cut = label.lastIndexOf('--');
  if (cut === -1) return { kind: 'production', project: label };
  const prefix = label.slice(0, cut);
  const project = label.slice(cut + 2);
  if (prefix === '' || project === '') return undefined;
  return { kind: 'prefixed', project, prefix };
}

/**
 * The edge's view of the store: Host -> the ready deployment to serve. `aws.api`:
 * SLIPWAY_AWS_ENDPOINT, through which an AWS preview's Function URL is reached (see FunctionOrigin).
 */
export function createStoreLookup(store: Store, baseDomain: string, aws: { api?: string | undefined } = {}): SiteLookup {
  const db = store.db;
  /** an AWS Next.js preview's function, for what its files do not answer */
  const withOrigin = async <T extends ResolvedSite>(site: T): Promise<T> => {
    const origin = await previewOrigin(db, site.deploymentId, aws.api);
    return origin === undefined ? site : { ...site, origin };
  };
  /** `environment`: the served deployment's own (what protects a branch host) */
  const viaAlias = async (projectId: string, alias: string): Promise<(ResolvedSite & { environment: string }) | undefined> => {
    const row = await db
      .selectFrom('aliases')
      .innerJoin('deployments', 'deployments.id', 'aliases.deployment_id')
      .select(['deployments.id', 'deployments.manifest_hash', 'deployments.status', 'deployments.environment'])
      .where('aliases.project_id', '=', projectId)
      .where('aliases.name', '=', alias)
      .executeTakeFirst();
    if (row === undefined || row.status !== 'ready' || row.manifest_hash === null) return undefined;
    return { deploymentId: row.id, manifestHash: row.manifest_hash, environment: row.environment };
  };

  /**
   * The deployment protection of the environment a host belongs to: the environment's alias
   * host and domains by the environment, a deployment's or branch's host by the deployment's.
   */
  const protectionOf = async (projectId: string, environment: string): Promise<HostSettings> => {
    const env = await db
      .selectFrom('environments')
      .select(['protection_mode', 'protection_hash', 'protection_key'])
      .where('project_id', '=', projectId)
      .where('name', '=', environment)
      .executeTakeFirst();
    if (env?.protection_mode == null || env.protection_hash === null || env.protection_key === null) return {};
    const secret = env.protection_mode === 'password' ? { passwordHash: env.protection_hash } : { tokenHash: env.protection_hash };
    return { protection: { mode: env.protection_mode, scope: environment, cookieKey: env.protection_key, ...secret } };
  };

  // written by the certificate manager (../acme) while an order waits on an HTTP-01 validation
  const challenges = shortCache(async (token: string) => {
    const row = await db.selectFrom('acme_challenges').select('value').where('kind', '=', 'http-01').where('key', '=', token).where('expires_at', '>', Date.now()).executeTakeFirst();
    return row?.value;
  }, 1000);

  return {
    async resolveHost(host) {
      if (host !== baseDomain && !host.endsWith(`.${baseDomain}`)) return viaDomain(host);
      const route = parseHost(host, baseDomain);
      if (route === undefined) return undefined;
      const project = await db.selectFrom('projects').select(['id', 'hsts_max_age', 'external_rewrites']).where('name', '=', route.project).executeTakeFirst();
      if (project === undefined) return undefined;
      const found = await siteOf(project.id, route);
      if (found === 'removed') return { settings: { ...hostSettings(project), removed: { deploymentId: (route as { prefix: string }).prefix } } };
      if (found === undefined) return undefined;
      const { environment, ...site } = found;
      return withOrigin({ ...site, settings: { ...hostSettings(project), ...(await protectionOf(project.id, environment)) } });
    },
    aliasGeneration: () => readCounter(db, 'alias_generation'),
    flagIntegrityError: (deploymentId, reason) => flagIntegrityError(db, deploymentId, reason),
    acmeHttpChallenge: (token) => challenges.get(token),
  };

  /**
   * A custom domain: the exact name, else the wildcard one level up (`a.example.com` ->
   * `*.example.com`). It serves in every status: the edge only sees a name that DNS or the
   * client points here. A redirect domain answers its redirect even with nothing deployed.
   */
  async function viaDomain(host: string): Promise<ResolvedHost | undefined> {
    const dot = host.indexOf('.');
    const names = dot > 0 ? [host, `*${host.slice(dot)}`] : [host];
    const rows = await db
      .selectFrom('domains')
      .innerJoin('projects', 'projects.id', 'domains.project_id')
      .select(['domains.name', 'domains.environment', 'domains.redirect_to', 'domains.redirect_status', 'projects.id as project_id', 'projects.hsts_max_age', 'projects.external_rewrites'])
      .where('domains.name', 'in', names)
      .execute();
    const row = rows.find((r) => r.name === host) ?? rows[0];
    if (row === undefined) return undefined;
    const settings = hostSettings(row);
    if (row.redirect_to !== null) return { settings: { ...settings, redirect: { to: row.redirect_to, status: redirectStatus(row.redirect_status) } } };
    // the alias of the environment it is bound to (production, or env:<name>)
    const alias = environmentAlias(row.environment);
    if (alias === undefined) return undefined;
    const found = await viaAlias(row.project_id, alias);
    if (found === undefined) return undefined;
    return withOrigin({ deploymentId: found.deploymentId, manifestHash: found.manifestHash, settings: { ...settings, ...(await protectionOf(row.project_id, row.environment)) } });
  }

  async function siteOf(projectId: string, route: HostRoute): Promise<(ResolvedSite & { environment: string }) | 'removed' | undefined> {
    const ofEnvironment = (site: ResolvedSite | undefined, environment: string) => (site === undefined ? undefined : { ...site, environment });
    if (route.kind === 'production') return ofEnvironment(await viaAlias(projectId, PRODUCTION), PRODUCTION);
    const d = await db.selectFrom('deployments').select(['id', 'manifest_hash', 'status', 'environment']).where('id', '=', route.prefix).where('project_id', '=', projectId).executeTakeFirst();
    // one awaiting approval serves at its own URL only, for the person who reviews it
    if (d !== undefined) {
      if (d.status === 'removed') return 'removed';
      return (d.status === 'ready' || d.status === 'awaiting-approval') && d.manifest_hash !== null ? { deploymentId: d.id, manifestHash: d.manifest_hash, environment: d.environment } : undefined;
    }
    // a named environment's host (`staging--blog`) before a branch preview of the same slug
    const named = ofEnvironment(await viaAlias(projectId, `env:${route.prefix}`), route.prefix);
    if (named !== undefined) return named;
    // `pr-<n>` is a pull request's preview; branchSlug never gives a branch that slug unhashed
    const pr = /^pr-([1-9]\d{0,9})$/.exec(route.prefix);
    return viaAlias(projectId, pr === null ? branchAlias(route.prefix) : prAlias(Number(pr[1])));
  }
}

function redirectStatus(stored: number | null): 301 | 302 | 307 | 308 {
  return stored === 301 || stored === 302 || stored === 307 ? stored : 308;
}

/** The edge settings a project gives each of its hosts. */
export function hostSettings(project: { hsts_max_age: number | null; external_rewrites: number | null }): HostSettings {
  const settings: HostSettings = {};
  if (project.hsts_max_age !== null) settings.hsts = `max-age=${project.hsts_max_age}`;
  if (project.external_rewrites === 1) settings.externalRewrites = true;
  return settings;
}

/**
 * Remember answers (and misses) for `ttlMs`: a burst of challenge requests, or of probes for
 * random tokens, costs one store read per token per TTL. An order writes its answer before it
 * tells the CA, so a fresh token is never cached as a miss.
 */
function shortCache(load: (key: string) => Promise<string | undefined>, ttlMs: number): { get(key: string): Promise<string | undefined> } {
  const entries = new Map<string, { value: Promise<string | undefined>; until: number }>();
  return {
    get(key) {
      const now = Date.now();
      const hit = entries.get(key);
      if (hit !== undefined && hit.until > now) return hit.value;
      if (entries.size >= 1000) entries.clear();
      const value = load(key);
      entries.set(key, { value, until: now + ttlMs });
      value.catch(() => entries.delete(key));
      return value;
    },
  };
}
