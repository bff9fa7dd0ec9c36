import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { BLOB_URL_EXAMPLE, parseS3Url } from '../blobs/s3-url.js';
import { AppError } from '../errors/index.js';
import { DNS_NAME, parseAcmeChallenge, parseDns01, parseDnsServers, parsePublicIps } from './domains.js';
import { parseMailConfig, type MailConfig } from '../mail/config.js';
import { parseNotifyConfig, type NotifyConfig } from '../notify/config.js';
import { parseObservabilityConfig, type ObservabilityConfig } from '../metrics/config.js';

export type Role = 'api' | 'worker' | 'edge';
export const ALL_ROLES: readonly Role[] = ['api', 'worker', 'edge'];

/** Everything a Slipway process needs to know, parsed once at start-up and frozen. */
export interface Config {
  readonly dataDir: string;
  /** metrics and logs (issue 14): --metrics-token, --metrics-port, --access-log, --log-keep */
  readonly observability: ObservabilityConfig;
  /** SLIPWAY_DATABASE_URL / --database-url: postgres://... selects PostgreSQL; undefined: the SQLite file <dataDir>/slipway.db */
  readonly databaseUrl: string | undefined;
  /** SLIPWAY_BLOB_URL / --blob-url: s3://bucket/prefix?endpoint=...&region=...&forcePathStyle=1; undefined: the directory <dataDir>/blobs */
  readonly blobUrl: string | undefined;
  /** SLIPWAY_BLOB_CACHE_MB / --blob-cache-mb: the cap of <dataDir>/blob-cache, the local copies of hot blobs the edge, runtime and worker keep when blobUrl is set */
  readonly blobCacheMb: number;
  /** SLIPWAY_AWS_ENDPOINT / SLIPWAY_AWS_S3_ENDPOINT: where the AWS target's API calls go instead of AWS (a VPC endpoint, a test stand-in) */
  readonly awsEndpoints: { readonly api?: string; readonly s3?: string };
  readonly roles: readonly Role[];
  /** bind address for api and edge */
  readonly host: string;
  readonly port: number;
  readonly edgePort: number;
  readonly baseDomain: string;
  /** how people and git hosts reach the api, for webhook URLs (default http://localhost:<port>) */
  readonly publicUrl: string;
  /** false when publicUrl is the default and should follow the port actually bound */
  readonly publicUrlSet: boolean;
  /**
   * SLIPWAY_SECRET_KEY_FILE / --secret-key-file: the platform key (secrets, certificate keys and
   * session tickets are encrypted or derived with it), made on first start when missing. Every
   * process of an installation needs the same key: default <dataDir>/secret.key.
   */
  readonly secretKeyFile: string;
  /** undefined: read or create <dataDir>/admin-token */
  readonly adminToken: string | undefined;
  /** SLIPWAY_ADMIN_EMAIL + SLIPWAY_ADMIN_PASSWORD: the first owner, made at the first start when no user exists */
  readonly firstOwner: { readonly email: string; readonly password: string } | undefined;
  readonly buildConcurrency: number;
  readonly edgeWorkers: number;
  /** a small listener answering /healthz and /readyz (for a process without the api, e.g. a worker); undefined: none */
  readonly healthPort: number | undefined;
  /** a claimed job is lost when its worker does not heartbeat within this */
  readonly jobLeaseMs: number;
  /** how long running builds may finish after SIGTERM before their leases are released */
  readonly shutdownGraceMs: number;
  readonly defaultBuildTimeoutSeconds: number;
  /** V8 heap limit of each SSR server process, MiB (0: node's default) */
  readonly serverMemoryMb: number;
  /** time an SSR server has to send response headers before the edge answers 504 */
  readonly serverRequestTimeoutMs: number;
  /** an SSR server no production host points at stops after this long without requests */
  readonly serverIdleMs: number;
  /** the server of a deployment an alias moved away from stays up this long, for an instant rollback */
  readonly serverStandbyMs: number;
  /** minutes between the worker role's garbage collections (retention, blobs, bundles, build caches); 0: only `slipway gc` */
  readonly gcIntervalMinutes: number;
  /** limits of every build's and server's sandbox (enforced where Slipway runs as root) */
  readonly sandbox: SandboxConfig;
  /** where the Node.js releases builds and servers run on are kept (verified, read-only; may be shared by data dirs) */
  readonly nodeCacheDir: string;
  /** the addresses custom domains' A/AAAA records must point at (--public-ip, comma-separated) */
  readonly publicIps: readonly string[];
  /** the host a custom domain's CNAME may point at instead (--cname-target) */
  readonly cnameTarget: string | undefined;
  /** resolvers for the domain DNS check ("127.0.0.1:5353"); empty: the system's (SLIPWAY_DNS_SERVERS) */
  readonly dnsServers: readonly string[];
  /** the edge's HTTPS port; undefined: no HTTPS (default 443 when --public-ip or --tls-cert is given) */
  readonly httpsPort: number | undefined;
  /** a certificate the operator brings (PEM files, reloaded when they change) */
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  readonly acme: AcmeConfig;
  /** the git host Slipway reports deployments to (src/githost/); a team may set its own */
  readonly gitHost: GitHostConfig;
  /** outgoing mail (--smtp-url, --smtp-from) and mailed deploy commands (--smtp-listen, --mail-domain): src/mail/ */
  readonly mail: MailConfig;
  /** where webhooks may go beyond the public internet (--notify-allow): src/notify/ */
  readonly notify: NotifyConfig;
}

export interface GitHostConfig {
  /** SLIPWAY_GITHUB_TOKEN: a token that may write deployments, statuses and comments */
  readonly githubToken: string | undefined;
  /** SLIPWAY_GITHUB_APP_ID + SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE: act as a GitHub App (wins over the token) */
  readonly githubAppId: string | undefined;
  readonly githubAppPrivateKeyFile: string | undefined;
  /** https://api.github.com, or GitHub Enterprise Server's https://<host>/api/v3 */
  readonly githubApiUrl: string;
  /** SLIPWAY_GITLAB_TOKEN + SLIPWAY_GITLAB_URL (default https://gitlab.com) */
  readonly gitlabToken: string | undefined;
  readonly gitlabUrl: string;
}

export interface AcmeConfig {
  /** the CA's directory URL; undefined: no ACME (--acme-directory off) */
  readonly directory: string | undefined;
  readonly email: string | undefined;
  /** PEM file of CA roots to trust for the directory's own HTTPS (a private CA such as pebble) */
  readonly caFile: string | undefined;
  /** how custom domains prove control (--acme-challenge; absent: http-01); wildcards always use DNS-01 */
  readonly challenge?: 'http-01' | 'tls-alpn-01';
  /** DNS-01 through RFC 2136 updates (--dns01-server ...); undefined: no DNS-01, so no wildcards */
  readonly dns01?: Dns01Config | undefined;
}

export interface Dns01Config {
  /** the primary DNS server that takes TSIG-signed updates, "host:port" */
  readonly server: string;
  /** the zone to update; undefined: found by SOA query */
  readonly zone: string | undefined;
  readonly tsig: { readonly name: string; readonly algorithm: string; readonly secret: string };
}

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export interface SandboxConfig {
  /** memory of a build's whole process tree, MiB */
  readonly buildMemoryMb: number;
  /** processes and threads of a build */
  readonly buildPids: number;
  /** the build folder's size cap (checkout, dependencies, output, TMPDIR), MiB; 0: no cap */
  readonly buildDiskMb: number;
  /** size of a build's or server's private /tmp (counts as its memory), MiB */
  readonly tmpMb: number;
  /** CPU weight of builds against everything else (1024 is every other process's) */
  readonly buildCpuShares: number;
  /** processes and threads of an SSR server */
  readonly serverPids: number;
  /** destinations in private ranges builds and servers may reach anyway: "10.0.0.5:5432", "10.1.0.0/16" */
  readonly allow: readonly string[];
}

export interface ConfigInput {
  [flag: string]: string | boolean | undefined;
}

const DEFAULTS = {
  dataDir: '.slipway',
  host: '0.0.0.0',
  port: 3000,
  edgePort: 8080,
  baseDomain: 'localhost',
  buildConcurrency: 1,
  jobLeaseMs: 30_000,
  shutdownGraceMs: 60_000,
  defaultBuildTimeoutSeconds: 1800,
};

/**
 * Build the config from flags (kebab-case, as on the command line) and the environment
 * (SLIPWAY_*). Flags win. A bad value throws a CONFIG error that shows a valid example.
 *
 * `loadConfig({ port: '3001' }, process.env)`
 */
export function loadConfig(flags: ConfigInput, env: NodeJS.ProcessEnv): Config {
  const pick = (flag: string, envName: string): string | undefined => {
    const v = flags[flag];
    if (typeof v === 'string') return v;
    return env[envName] === '' ? undefined : env[envName];
  };
  const int = (flag: string, envName: string, fallback: number, min: number, max: number, example: string): number => {
    const raw = pick(flag, envName);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new AppError('CONFIG', `--${flag} (${envName}) must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}.`, {
        hint: `For example: ${example}`,
      });
    }
    return n;
  };

  const roles = parseRoles(pick('roles', 'SLIPWAY_ROLES'));
  const port = int('port', 'SLIPWAY_PORT', DEFAULTS.port, 0, 65535, '--port 3000');
  const edgePort = int('edge-port', 'SLIPWAY_EDGE_PORT', DEFAULTS.edgePort, 0, 65535, '--edge-port 8080');
  const baseDomain = (pick('base-domain', 'SLIPWAY_BASE_DOMAIN') ?? DEFAULTS.baseDomain).toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(baseDomain)) {
    throw new AppError('CONFIG', `--base-domain must be a DNS name, got ${JSON.stringify(baseDomain)}.`, { hint: 'For example: --base-domain sites.example.com' });
  }
  const adminToken = pick('admin-token', 'SLIPWAY_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new AppError('CONFIG', 'SLIPWAY_ADMIN_TOKEN must be at least 16 characters.', { hint: 'For example: SLIPWAY_ADMIN_TOKEN=$(openssl rand -hex 24)' });
  }
  const givenPublicUrl = pick('public-url', 'SLIPWAY_PUBLIC_URL');
  const publicUrl = givenPublicUrl ?? `http://localhost:${port}`;
  try {
    new URL(publicUrl);
  } catch {
    throw new AppError('CONFIG', `--public-url must be an absolute URL, got ${JSON.stringify(publicUrl)}.`, { hint: 'For example: --public-url https://deploy.example.com' });
  }

  const dataDir = resolve(pick('data-dir', 'SLIPWAY_DATA_DIR') ?? DEFAULTS.dataDir);
  const databaseUrl = pick('database-url', 'SLIPWAY_DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new AppError('CONFIG', '--database-url (SLIPWAY_DATABASE_URL) must be a postgres:// URL.', {
      hint: 'For example: --database-url postgres://slipway:secret@db.internal:5432/slipway (leave it unset for the SQLite file in the data dir)',
    });
  }
  const blobUrl = pick('blob-url', 'SLIPWAY_BLOB_URL');
  if (blobUrl !== undefined) {
    try {
      parseS3Url(blobUrl);
    } catch (err) {
      throw new AppError('CONFIG', `--blob-url (SLIPWAY_BLOB_URL) is not a usable s3:// URL: ${(err as Error).message}.`, {
        hint: `For example: --blob-url ${BLOB_URL_EXAMPLE} (leave it unset for the blobs folder in the data dir)`,
      });
    }
  }
  const publicIps = parsePublicIps(pick('public-ip', 'SLIPWAY_PUBLIC_IP'));
  const cnameTarget = pick('cname-target', 'SLIPWAY_CNAME_TARGET')?.toLowerCase().replace(/\.$/, '');
  if (cnameTarget !== undefined && !DNS_NAME.test(cnameTarget)) {
    throw new AppError('CONFIG', `--cname-target must be a DNS name, got ${JSON.stringify(cnameTarget)}.`, { hint: 'For example: --cname-target edge.example.net' });
  }
  const tlsCertFile = pick('tls-cert', 'SLIPWAY_TLS_CERT');
  const tlsKeyFile = pick('tls-key', 'SLIPWAY_TLS_KEY');
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new AppError('CONFIG', '--tls-cert and --tls-key go together.', { hint: 'For example: --tls-cert /etc/slipway/site.crt --tls-key /etc/slipway/site.key' });
  }
  const httpsRaw = pick('https-port', 'SLIPWAY_HTTPS_PORT');
  const httpsPort =
    httpsRaw === 'off'
      ? undefined
      : httpsRaw !== undefined
        ? int('https-port', 'SLIPWAY_HTTPS_PORT', 443, 0, 65535, '--https-port 443 (or off)')
        : publicIps.length > 0 || tlsCertFile !== undefined
          ? 443
          : undefined;
  const acmeRaw = pick('acme-directory', 'SLIPWAY_ACME_DIRECTORY');
  const acmeDirectory = acmeRaw === 'off' ? undefined : acmeRaw === undefined || acmeRaw === 'production' ? LETS_ENCRYPT : acmeRaw === 'staging' ? LETS_ENCRYPT_STAGING : acmeRaw;
  if (acmeDirectory !== undefined && !/^https?:\/\/[^/]/.test(acmeDirectory)) {
    throw new AppError('CONFIG', `--acme-directory must be an https:// URL, "staging", "production" or "off", got ${JSON.stringify(acmeRaw)}.`, { hint: 'For example: --acme-directory staging' });
  }
  const acmeEmail = pick('acme-email', 'SLIPWAY_ACME_EMAIL');
  if (acmeEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(acmeEmail)) {
    throw new AppError('CONFIG', `--acme-email must be an email address, got ${JSON.stringify(acmeEmail)}.`, { hint: 'For example: --acme-email ops@example.com' });
  }
  return Object.freeze({
    publicIps: Object.freeze(publicIps),
    cnameTarget,
    dnsServers: Object.freeze(parseDnsServers(pick('dns-servers', 'SLIPWAY_DNS_SERVERS'))),
    httpsPort,
    tlsCertFile: tlsCertFile === undefined ? undefined : resolve(tlsCertFile),
    tlsKeyFile: tlsKeyFile === undefined ? undefined : resolve(tlsKeyFile),
    acme: Object.freeze({
      directory: acmeDirectory,
      email: acmeEmail,
      caFile: pick('acme-ca-file', 'SLIPWAY_ACME_CA_FILE'),
      challenge: parseAcmeChallenge(pick('acme-challenge', 'SLIPWAY_ACME_CHALLENGE')),
      dns01: parseDns01(pick),
    }),
    gitHost: parseGitHost(pick),
    mail: parseMailConfig(pick, baseDomain),
    notify: parseNotifyConfig(pick),
    dataDir,
    secretKeyFile: resolve(pick('secret-key-file', 'SLIPWAY_SECRET_KEY_FILE') ?? resolve(dataDir, 'secret.key')),
    databaseUrl,
    blobUrl,
    blobCacheMb: int('blob-cache-mb', 'SLIPWAY_BLOB_CACHE_MB', 2048, 16, 16_777_216, '--blob-cache-mb 2048'),
    observability: parseObservabilityConfig(pick, int),
    awsEndpoints: awsEndpointsOf(pick('aws-endpoint', 'SLIPWAY_AWS_ENDPOINT'), pick('aws-s3-endpoint', 'SLIPWAY_AWS_S3_ENDPOINT')),
    nodeCacheDir: resolve(pick('node-cache-dir', 'SLIPWAY_NODE_CACHE_DIR') ?? resolve(dataDir, 'node')),
    roles,
    host: pick('host', 'SLIPWAY_HOST') ?? DEFAULTS.host,
    port,
    edgePort,
    baseDomain,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    publicUrlSet: givenPublicUrl !== undefined,
    adminToken,
    firstOwner: env.SLIPWAY_ADMIN_EMAIL && env.SLIPWAY_ADMIN_PASSWORD ? Object.freeze({ email: env.SLIPWAY_ADMIN_EMAIL, password: env.SLIPWAY_ADMIN_PASSWORD }) : undefined,
    buildConcurrency: int('build-concurrency', 'SLIPWAY_BUILD_CONCURRENCY', DEFAULTS.buildConcurrency, 0, 64, '--build-concurrency 2'),
    edgeWorkers: int('edge-workers', 'SLIPWAY_EDGE_WORKERS', availableParallelism(), 0, 64, '--edge-workers 2 (0 serves the edge inside the main process)'),
    healthPort: pick('health-port', 'SLIPWAY_HEALTH_PORT') === undefined ? undefined : int('health-port', 'SLIPWAY_HEALTH_PORT', 0, 0, 65535, '--health-port 9090'),
    jobLeaseMs: int('job-lease-ms', 'SLIPWAY_JOB_LEASE_MS', DEFAULTS.jobLeaseMs, 500, 3_600_000, '--job-lease-ms 30000'),
    shutdownGraceMs: int('shutdown-grace-ms', 'SLIPWAY_SHUTDOWN_GRACE_MS', DEFAULTS.shutdownGraceMs, 0, 3_600_000, '--shutdown-grace-ms 60000'),
    serverMemoryMb: int('server-memory-mb', 'SLIPWAY_SERVER_MEMORY_MB', 0, 0, 65_536, '--server-memory-mb 512'),
    serverRequestTimeoutMs: int('server-request-timeout-ms', 'SLIPWAY_SERVER_REQUEST_TIMEOUT_MS', 60_000, 100, 3_600_000, '--server-request-timeout-ms 60000'),
    serverIdleMs: int('server-idle-ms', 'SLIPWAY_SERVER_IDLE_MS', 15 * 60_000, 1000, 86_400_000, '--server-idle-ms 900000'),
    serverStandbyMs: int('server-standby-ms', 'SLIPWAY_SERVER_STANDBY_MS', 5 * 60_000, 0, 86_400_000, '--server-standby-ms 300000 (0 stops a replaced server as soon as its requests finish)'),
    gcIntervalMinutes: int('gc-interval-minutes', 'SLIPWAY_GC_INTERVAL_MINUTES', 360, 0, 525_600, '--gc-interval-minutes 360 (0: collect only on `slipway gc`)'),
    sandbox: Object.freeze({
      buildMemoryMb: int('build-memory-mb', 'SLIPWAY_BUILD_MEMORY_MB', 4096, 64, 262_144, '--build-memory-mb 4096'),
      buildPids: int('build-pids', 'SLIPWAY_BUILD_PIDS', 4096, 16, 1_000_000, '--build-pids 4096'),
      buildDiskMb: int('build-disk-mb', 'SLIPWAY_BUILD_DISK_MB', 20_480, 0, 16_777_216, '--build-disk-mb 20480 (0: no cap)'),
      tmpMb: int('sandbox-tmp-mb', 'SLIPWAY_SANDBOX_TMP_MB', 1024, 1, 262_144, '--sandbox-tmp-mb 1024'),
      buildCpuShares: int('build-cpu-shares', 'SLIPWAY_BUILD_CPU_SHARES', 512, 2, 262_144, '--build-cpu-shares 512'),
      serverPids: int('server-pids', 'SLIPWAY_SERVER_PIDS', 1024, 16, 1_000_000, '--server-pids 1024'),
      allow: Object.freeze(parseAllow(pick('sandbox-allow', 'SLIPWAY_SANDBOX_ALLOW'))),
    }),
    defaultBuildTimeoutSeconds: int('build-timeout', 'SLIPWAY_BUILD_TIMEOUT', DEFAULTS.defaultBuildTimeoutSeconds, 1, 86_400, '--build-timeout 1800'),
  });
}

function parseGitHost(pick: (flag: string, envName: string) => string | undefined): GitHostConfig {
  const url = (flag: string, envName: string, fallback: string) => {
    const raw = pick(flag, envName) ?? fallback;
    if (!/^https?:\/\/[^/]/.test(raw)) throw new AppError('CONFIG', `--${flag} (${envName}) must be an http(s) URL, got ${JSON.stringify(raw)}.`, { hint: `For example: --${flag} ${fallback}` });
    return raw.replace(/\/+$/, '');
  };
  const appId = pick('github-app-id', 'SLIPWAY_GITHUB_APP_ID');
  const keyFile = pick('github-app-private-key-file', 'SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE');
  if ((appId === undefined) !== (keyFile === undefined)) {
    throw new AppError('CONFIG', 'A GitHub App needs both --github-app-id and --github-app-private-key-file.', {
      hint: 'For example: --github-app-id 123456 --github-app-private-key-file /etc/slipway/github-app.pem',
    });
  }
  if (appId !== undefined && !/^\d+$/.test(appId))
    throw new AppError('CONFIG', `--github-app-id must be the App's numeric id, got ${JSON.stringify(appId)}.`, { hint: 'For example: --github-app-id 123456' });
  return Object.freeze({
    githubToken: pick('github-token', 'SLIPWAY_GITHUB_TOKEN'),
    githubAppId: appId,
    githubAppPrivateKeyFile: keyFile === undefined ? undefined : resolve(keyFile),
    githubApiUrl: url('github-api-url', 'SLIPWAY_GITHUB_API_URL', 'https://api.github.com'),
    gitlabToken: pick('gitlab-token', 'SLIPWAY_GITLAB_TOKEN'),
    gitlabUrl: url('gitlab-url', 'SLIPWAY_GITLAB_URL', 'https://gitlab.com'),
  });
}

function parseAllow(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?::(\d{1,5}))?$/.exec(entry);
    const ok = m !== null && m[1]!.split('.').every((o) => Number(o) <= 255) && (m[2] === undefined || Number(m[2]) <= 32) && (m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535));
    if (!ok) {
      throw new AppError('CONFIG', `--sandbox-allow entries are IPv4 addresses or networks with an optional port, got ${JSON.stringify(entry)}.`, {
        hint: 'For example: --sandbox-allow 10.0.0.5:5432,10.1.0.0/16',
      });
    }
  }
  return entries;
}

function parseRoles(raw: string | undefined): Role[] {
  if (raw === undefined || raw === 'all') return [...ALL_ROLES];
  const roles = raw
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const r of roles) {
    if (!ALL_ROLES.includes(r as Role)) {
      throw new AppError('CONFIG', `Unknown role ${JSON.stringify(r)}; roles are api, worker and edge.`, { hint: 'For example: --roles api,worker' });
    }
  }
  if (roles.length === 0) throw new AppError('CONFIG', '--roles names no role.', { hint: 'For example: --roles api,worker,edge' });
  return roles as Role[];
}

function awsEndpointsOf(api: string | undefined, s3: string | undefined): Config['awsEndpoints'] {
  for (const [name, url] of [
    ['SLIPWAY_AWS_ENDPOINT', api],
    ['SLIPWAY_AWS_S3_ENDPOINT', s3],
  ] as const) {
    if (url !== undefined && !/^https?:\/\/[^/\s]+/.test(url))
      throw new AppError('CONFIG', `${name} must be an http(s) URL, got ${JSON.stringify(url)}.`, {
        hint: `For example: ${name}=https://vpce-0123.lambda.eu-west-1.vpce.amazonaws.com (leave it unset for AWS itself)`,
      });
  }
  return Object.freeze({ ...(api === undefined ? {} : { api }), ...(s3 === undefined ? {} : { s3 }) });
}
