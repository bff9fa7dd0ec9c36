import { ACME_CHALLENGE_PATH, HEALTH_PREFIX, requestPath } from './path.js';
import type { RouteTable } from './routes.js';
import { hasRules, rememberedFile } from './site-rules.js';
import type { Site, SiteFile } from './site.js';
import type { HostSettings } from './types.js';

/** A file the fast paths may send themselves, with the host's settings (HSTS) and the decoded request path. */
export interface FastFile {
  site: Site;
  file: SiteFile;
  settings: HostSettings | undefined;
  path: string;
}

/**
 * The file a GET or HEAD of `target` on `host` gets, when a fast path (./http1-fast.ts,
 * ./h2-static.ts) may answer it without the usual handler: the host is routed already and not
 * protected (its visitors are checked by admitProtected), the path is neither the edge's own
 * (health, ACME) nor one whose site rules still depend on the request, and the deployment has a
 * file there. Undefined otherwise: the usual path answers, and for a new host or path it routes
 * and remembers, so the next request can come here. The caller still checks what only it knows
 * (ranges, certificates, the HTTPS gate, bytes in memory).
 */
export function fastFile(routes: RouteTable, host: string, target: string): FastFile | undefined {
  if (target.startsWith(HEALTH_PREFIX) || target.startsWith(ACME_CHALLENGE_PATH)) return undefined;
  const route = routes.get(host);
  const routed = route?.site;
  if (route === undefined || routed === undefined || route.settings?.protection !== undefined) return undefined;
  const path = requestPath(target);
  if (path === undefined) return undefined;
  const remembered = hasRules(routed) ? rememberedFile(routed, path) : { view: routed, path };
  if (remembered === undefined) return undefined;
  const file = remembered.view.files.get(remembered.path);
  return file === undefined ? undefined : { site: remembered.view, file, settings: route.settings, path };
}
