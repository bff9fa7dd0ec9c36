import type { BlobStore } from '../blobs/index.js';
import { parseManifest } from '../manifest/index.js';
import type { BlobReader } from './blob-reader.js';
import { normaliseHost } from './path.js';
import { compileSite, type Site } from './site.js';
import type { HostSettings, ResolvedHost, ResolvedSite, ServerGateway, SiteLookup } from './types.js';

/** Host routes kept at most; past this the table is dropped and refilled (cheap, and bounds memory against random Hosts). */
const MAX_HOST_ROUTES = 10_000;
/** compiled deployments kept at most; manifests are immutable, so this is only a memory bound */
const MAX_SITES = 1_000;

/**
 * What a Host header maps to. `site` set: serve it. No site but `settings.redirect`: a redirect
 * domain. Else unknown until `expires`, or being resolved (`pending`).
 */
export interface HostRoute {
  site: Site | undefined;
  /** the host's own settings (redirect domain, HSTS, ...), from the lookup with the site */
  settings: HostSettings | undefined;
  expires: number;
  pending: Promise<HostRoute> | undefined;
}

export class BadHostError extends Error {}
/** the lookup (store) failed, as opposed to reading the deployment's manifest: 502, not 500 */
export class LookupError extends Error {}

export interface RouteTableOptions {
  lookup: SiteLookup;
  blobs: BlobStore;
  /** reads the manifest blob, verified (a changed manifest flags its deployment) */
  reader: BlobReader;
  missTtlMs: number;
  servers: ServerGateway | undefined;
  drainGraceMs: number;
  /**
   * how long the server of a deployment that routes no longer point at stays up after the move
   * (its in-flight requests finish meanwhile), so that a rollback to it switches at once; then
   * it is drained and stopped. 0: drain at once.
   */
  standbyMs: number;
  report: (message: string, error?: unknown) => void;
}

/**
 * The edge's Host -> deployment table: raw Host header -> compiled site, filled on demand from
 * the lookup, and moved on alias changes without a gap (see `refresh`). A cached hit is a Map
 * lookup, never an await.
 */
export class RouteTable {
  private readonly routes = new Map<string, HostRoute>();
  /** bumped on every invalidation; a lookup that started before a bump must not fill the new table */
  private epoch = 0;
  private readonly sites = new Map<string, Promise<Site>>();
  /** replaced deployments whose servers stay up for a quick rollback: id -> when they are drained */
  private readonly standby = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: RouteTableOptions) {}

  /** Forget the standby timers (the runtime stops every server when the edge closes). */
  close(): void {
    for (const timer of this.standby.values()) clearTimeout(timer);
    this.standby.clear();
  }

  get(hostHeader: string): HostRoute | undefined {
    return this.routes.get(hostHeader);
  }

  /** Drop every route now. */
  invalidate(): void {
    this.epoch++;
    const before = this.routedDeployments();
    this.routes.clear();
    // the servers those routes used are retired like after a move (standby, then drained unless a
    // route points at them again): dropped silently, a remote gateway's hold on them would never end
    const servers = this.opts.servers;
    if (servers !== undefined) for (const id of before) this.retire(servers, id);
  }

  /** Look a Host up (one lookup at a time per Host) and remember the answer; misses for missTtlMs. */
  resolve(hostHeader: string): Promise<HostRoute> {
    const existing = this.routes.get(hostHeader);
    if (existing?.pending !== undefined) return existing.pending;
    const startedIn = this.epoch;
    const pending = (async (): Promise<HostRoute> => {
      const host = normaliseHost(hostHeader);
      if (host === undefined) throw new BadHostError(hostHeader);
      let resolved: ResolvedHost | undefined;
      try {
        resolved = await this.opts.lookup.resolveHost(host);
      } catch (error) {
        throw new LookupError(`lookup of ${host} failed`, { cause: error });
      }
      if (resolved === undefined) return { site: undefined, settings: undefined, expires: Date.now() + this.opts.missTtlMs, pending: undefined };
      if (resolved.deploymentId === undefined) return { site: undefined, settings: resolved.settings, expires: Infinity, pending: undefined };
      return { site: await this.loadSite(resolved), settings: resolved.settings, expires: Infinity, pending: undefined };
    })();
    const placeholder: HostRoute = { site: undefined, settings: undefined, expires: 0, pending };
    if (this.routes.size >= MAX_HOST_ROUTES) this.routes.clear();
    this.routes.set(hostHeader, placeholder);
    pending.then(
      (route) => {
        if (this.epoch === startedIn && this.routes.get(hostHeader) === placeholder) this.routes.set(hostHeader, route);
        else if (this.epoch !== startedIn && !this.routes.has(hostHeader)) {
          // a move came while this lookup ran, so its answer may predate it: look again, so that a
          // host being served stays cached (and is served if the store goes away before its next request)
          void this.resolve(hostHeader).catch(() => undefined);
        }
        if (route.site?.server !== undefined) this.opts.servers?.pin(this.routedDeployments('pinned'));
      },
      () => {
        if (this.routes.get(hostHeader) === placeholder) this.routes.delete(hostHeader);
      },
    );
    return pending;
  }

  /**
   * An alias moved: re-resolve every served Host and swap a route only when its new site is
   * ready (kamal-proxy's order: make the new target healthy, switch, then drain the old one).
   * A failed switch keeps the old target. Misses are dropped.
   */
  async refresh(): Promise<void> {
    const { lookup, servers, report } = this.opts;
    this.epoch++; // lookups already in flight predate the move: they must not fill the table
    const served: [string, HostRoute][] = [];
    for (const [hostHeader, route] of this.routes) {
      if (route.site === undefined && route.settings?.redirect === undefined) this.routes.delete(hostHeader);
      else served.push([hostHeader, route]);
    }
    const before = this.routedDeployments();
    await Promise.all(
      served.map(async ([hostHeader, route]) => {
        try {
          const host = normaliseHost(hostHeader);
          const resolved = host === undefined ? undefined : await lookup.resolveHost(host);
          if (resolved === undefined) {
            if (this.routes.get(hostHeader) === route) this.routes.delete(hostHeader);
            return;
          }
          if (resolved.deploymentId === undefined) {
            // a redirect domain now (or still): nothing to load
            if (this.routes.get(hostHeader) === route) this.routes.set(hostHeader, { site: undefined, settings: resolved.settings, expires: Infinity, pending: undefined });
            return;
          }
          if (resolved.deploymentId === route.site?.deploymentId && resolved.manifestHash === route.site.manifestHash && resolved.origin?.url === route.site.origin?.url) {
            // same deployment; the host's settings may still have changed (a domain became a redirect, HSTS on)
            if (this.routes.get(hostHeader) === route) route.settings = resolved.settings;
            return;
          }
          const site = await this.loadSite(resolved);
          if (site.server !== undefined && servers !== undefined) await servers.ensure(site.deploymentId, site.server);
          if (this.routes.get(hostHeader) === route) this.routes.set(hostHeader, { site, settings: resolved.settings, expires: Infinity, pending: undefined });
        } catch (error) {
          // keep serving the old target; the next move or a restart tries again
          report(`could not switch ${hostHeader} to its new deployment; still serving ${route.site?.deploymentId ?? 'its redirect'}`, error);
        }
      }),
    );
    if (servers !== undefined) {
      const after = this.routedDeployments();
      servers.pin(this.routedDeployments('pinned'));
      for (const id of after) {
        clearTimeout(this.standby.get(id));
        this.standby.delete(id);
      }
      for (const id of before) if (!after.has(id)) this.retire(servers, id);
    }
  }

  /**
   * Load a deployment before an alias points at it and start its server, so the move that
   * follows switches at once. The server is kept for standbyMs like a replaced one (then
   * drained unless a route points at it by then).
   */
  async warm(resolved: ResolvedSite): Promise<void> {
    const site = await this.loadSite(resolved);
    const servers = this.opts.servers;
    if (site.server === undefined || servers === undefined) return;
    await servers.ensure(site.deploymentId, site.server);
    if (!this.routedDeployments().has(site.deploymentId)) this.retire(servers, site.deploymentId);
  }

  /** A deployment no route points at any more: keep its server for standbyMs, then drain it. */
  private retire(servers: ServerGateway, id: string): void {
    const drain = () => {
      this.standby.delete(id);
      if (this.routedDeployments().has(id)) return;
      void servers.drain(id, this.opts.drainGraceMs).catch((error: unknown) => this.opts.report(`draining ${id} failed`, error));
    };
    clearTimeout(this.standby.get(id));
    if (this.opts.standbyMs <= 0) return drain();
    const timer = setTimeout(drain, this.opts.standbyMs);
    timer.unref();
    this.standby.set(id, timer);
  }

  /** SSR deployments that routes point at; 'pinned': production and custom hosts, not `<id>--<project>` previews */
  private routedDeployments(which: 'all' | 'pinned' = 'all'): Set<string> {
    const ids = new Set<string>();
    for (const [hostHeader, route] of this.routes) {
      if (route.site?.server === undefined) continue;
      if (which === 'pinned' && hostHeader.split('.')[0]!.includes('--')) continue;
      ids.add(route.site.deploymentId);
    }
    return ids;
  }

  private async loadSite(resolved: ResolvedSite): Promise<Site> {
    const site = await this.compiledSite(resolved);
    // per resolution, not cached with the manifest: a preview's origin goes once a newer deployment takes its alias
    return resolved.origin === undefined ? site : { ...site, origin: resolved.origin };
  }

  private compiledSite(resolved: ResolvedSite): Promise<Site> {
    const key = `${resolved.deploymentId}\n${resolved.manifestHash}`;
    let site = this.sites.get(key);
    if (site === undefined) {
      const read = () => this.opts.blobs.get(resolved.manifestHash);
      site = this.opts.reader.verified(resolved.deploymentId, 'the manifest', resolved.manifestHash, read).then((bytes) => {
        if (bytes === undefined) throw new Error(`manifest blob ${resolved.manifestHash} of deployment ${resolved.deploymentId} is missing from the blob store`);
        return compileSite(resolved.deploymentId, resolved.manifestHash, parseManifest(bytes));
      });
      const loading = site;
      loading.catch(() => {
        if (this.sites.get(key) === loading) this.sites.delete(key); // retry on the next request
      });
      if (this.sites.size >= MAX_SITES) {
        const oldest = this.sites.keys().next();
        if (oldest.done !== true) this.sites.delete(oldest.value);
      }
      this.sites.set(key, site);
    }
    return site;
  }
}
