import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BlobStore } from '../blobs/index.js';
import type { RequestObserver } from '../access-log/index.js';
import type { ServerBundle } from '../manifest/index.js';
import type { ExternalProxyOptions } from './external-proxy.js';
import type { EdgeTlsOptions } from './https.js';

/** What the edge serves for one Host. */
export interface ResolvedSite {
  deploymentId: string;
  /** blob hash of the deployment's manifest (see ../manifest) */
  manifestHash: string;
  /** what the host itself asks of the edge, beyond its deployment (absent: nothing) */
  settings?: HostSettings;
  /** a function outside Slipway that serves what the deployment's files do not (see FunctionOrigin) */
  origin?: FunctionOrigin;
}

/**
 * An AWS Next.js preview's server: its Lambda alias's Function URL, recorded by the deployment
 * on AWS (never taken from a repository). The edge serves the deployment's static files itself
 * and proxies every other request there (./function-origin.ts).
 */
export interface FunctionOrigin {
  /** `https://<id>.lambda-url.<region>.on.aws/` */
  url: string;
  /** the operator's endpoint to dial instead (SLIPWAY_AWS_ENDPOINT: a VPC endpoint, a test stand-in), Host and TLS name staying the URL's */
  via?: string;
}

/** A redirect domain: answered with its redirect whether or not its project has a ready deployment. */
export interface ResolvedRedirect {
  deploymentId?: undefined;
  manifestHash?: undefined;
  settings: HostSettings & { redirect: HostRedirect };
}

/** A deployment's own host after retention removed it (src/retention): answered with a page saying so. */
export interface ResolvedRemoved {
  deploymentId?: undefined;
  manifestHash?: undefined;
  settings: HostSettings & { removed: { deploymentId: string } };
}

/** What a Host resolves to: a deployment to serve, only a redirect, or a removed deployment. */
export type ResolvedHost = ResolvedSite | ResolvedRedirect | ResolvedRemoved;

export interface HostRedirect {
  /** the host redirected to ("example.com"); the request's path and query are kept */
  to: string;
  status: 301 | 302 | 307 | 308;
}

/** Per-host behaviour that comes from the project or the domain, not from the deployment's manifest. */
export interface HostSettings {
  /** the host is a deployment's own and retention removed that deployment */
  removed?: { deploymentId: string };
  /** a redirect domain ("www.example.com" -> "example.com"): every request is redirected, path and query kept */
  redirect?: HostRedirect;
  /** the Strict-Transport-Security value sent on HTTPS responses (the project's setting); absent: none */
  hsts?: string;
  /** the project lets site rules rewrite to outside https:// URLs (proxied); otherwise such a rule is refused */
  externalRewrites?: boolean;
  /** the environment's deployment protection: a visitor needs its cookie, password or bypass token (see ./protection.ts) */
  protection?: HostProtection;
}

export interface HostProtection {
  mode: 'password' | 'token';
  /** the environment it protects: what the access cookie is signed for */
  scope: string;
  /** hex key that signs the access cookie */
  cookieKey: string;
  /** password mode: the salted scrypt hash */
  passwordHash?: string;
  /** token mode: sha256 (hex) of the bypass token */
  tokenHash?: string;
}

/** A source of "something changed" pushes; 'reconnected' means anything may have. */
export interface ChangeSignal {
  subscribe(listener: (change: string) => void): () => void;
}

/** How the edge learns which deployment a Host maps to. Backed by the store in production. */
export interface SiteLookup {
  /** `host` is lower-cased and has no port. Undefined when no alias or deployment matches. */
  resolveHost(host: string): Promise<ResolvedHost | undefined>;
  /** A number that changes whenever any alias moves; the edge polls it to drop cached routes. */
  aliasGeneration(): Promise<number>;
  /**
   * One of the deployment's blobs no longer matches its hash (changed on disk): record it for
   * an operator (the store's deployments.integrity_error). Optional: lookups without a store only log.
   */
  flagIntegrityError?(deploymentId: string, reason: string): Promise<void>;
  /**
   * The key authorization for an ACME HTTP-01 token an order is waiting on (any Host), or
   * undefined. Optional: without it the edge does not answer /.well-known/acme-challenge/.
   */
  acmeHttpChallenge?(token: string): Promise<string | undefined>;
}

export interface EdgeOptions {
  lookup: SiteLookup;
  blobs: BlobStore;
  /** bytes of hot blobs kept in memory (default 256 MiB) */
  memoryCacheBytes?: number;
  /** how often to poll lookup.aliasGeneration(), ms (default 20; with `changes`, the safety net's interval) */
  pollMs?: number;
  /** pushed change notifications (PostgreSQL LISTEN/NOTIFY, see ../store/notify.ts): each one checks the generation at once */
  changes?: ChangeSignal;
  /** told the alias generation whose routes this edge serves, after each switch (presence, see ./presence.ts) */
  served?: (generation: number) => void;
  /** blobs larger than this are streamed from the blob store, never cached (default 8 MiB) */
  streamThresholdBytes?: number;
  /** how long an unknown host is remembered before asking the lookup again, ms (default 1000) */
  missTtlMs?: number;
  /**
   * write whole cached files to keep-alive requests with a pre-serialised head (default true;
   * see ./raw-response.ts), and answer the plainest HTTP/1.1 requests for them below node:http
   * (./http1-fast.ts). false: every HTTP/1.1 request goes through node:http and res.writeHead/res.end.
   */
  rawResponses?: boolean;
  /** where failures the edge survives are reported (default: Slipway's log, see src/log) */
  log?: (message: string, error?: Error) => void;
  /** runs server-rendered deployments; without it an SSR deployment serves only its static files */
  servers?: ServerGateway;
  /** how long a server no route points at any more keeps finishing its requests (default 30 s) */
  drainGraceMs?: number;
  /**
   * how long the server of a deployment that lost its last route stays up, so that a rollback
   * to it switches at once (default 5 min; 0: drain right after the move)
   */
  standbyMs?: number;
  /** also serve HTTPS and HTTP/2 (EdgeServer.https), and redirect HTTP to it for hosts with a certificate */
  tls?: EdgeTlsOptions;
  /** told of every request and its answer, for the access log and metrics (see src/access-log); absent: nothing is recorded */
  observer?: RequestObserver;
  /** how site rules' rewrites to outside URLs are proxied (tests trust their own CA and loopback server) */
  externalProxy?: ExternalProxyOptions;
  /** how AWS previews' Function URLs are proxied (tests: shorter timeouts) */
  functionProxy?: Pick<ExternalProxyOptions, 'ca' | 'responseTimeoutMs' | 'idleTimeoutMs'>;
}

/**
 * How the edge reaches server-rendered deployments (the runtime, see ../runtime): what a
 * request for an SSR deployment does not find among its static files is proxied to its server.
 */
export interface ServerGateway {
  /** Start the deployment's server if needed; resolves with its port once it answers. */
  ensure(deploymentId: string, bundle: ServerBundle): Promise<{ port: number }>;
  /** Stream the request to the server and its answer back; never rejects. */
  proxy(req: IncomingMessage, res: ServerResponse, deploymentId: string, target: { port: number }, opts: { proto: 'http' | 'https'; clientIp: string }): Promise<void>;
  /** Relay an upgraded connection (WebSocket) to the server; never rejects. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deploymentId: string, target: { port: number }, opts: { proto: 'http' | 'https'; clientIp: string }): Promise<void>;
  /** The deployments routes point at now stay warm; the others may stop when idle. */
  pin(deploymentIds: Set<string>): void;
  /** No route points at it any more: stop it once its in-flight requests finish. */
  drain(deploymentId: string, graceMs: number): Promise<void>;
}
