import { loadConfig, type ConfigInput } from '../config/index.js';
import type { Command } from './command.js';

/** `slipway up`: run the roles (default all) in this process until SIGTERM/SIGINT. */
export async function up(flags: ConfigInput): Promise<void> {
  const config = loadConfig(flags, process.env);
  // the platform (store drivers, the AWS SDK, the builder...) loads only here, so that every
  // other command, and `slipway --help`, starts in a fraction of the time
  const { startSlipway } = await import('../app.js');
  const slipway = await startSlipway(config);
  const lines = [`Slipway is up (${config.roles.join(', ')}), data in ${config.dataDir}`];
  if (slipway.apiPort !== undefined) lines.push(`  API and dashboard: http://localhost:${slipway.apiPort}`);
  if (slipway.edgePort !== undefined) lines.push(`  Sites (edge):      http://<project>.${config.baseDomain}:${slipway.edgePort}`);
  if (slipway.httpsPort !== undefined) lines.push(`  Sites (HTTPS):     https://<domain>:${slipway.httpsPort}`);
  if (config.observability.metricsToken !== undefined) {
    const where = [
      slipway.apiPort === undefined ? undefined : `http://localhost:${slipway.apiPort}/metrics`,
      slipway.metricsPort === undefined ? undefined : `http://localhost:${slipway.metricsPort}/metrics`,
    ];
    if (where.some((w) => w !== undefined)) lines.push(`  Metrics:           ${where.filter((w) => w !== undefined).join(', ')} (Authorization: Bearer <metrics token>)`);
  }
  if (slipway.apiPort !== undefined) {
    lines.push(slipway.adminTokenFile === undefined ? '  Admin token:       from SLIPWAY_ADMIN_TOKEN' : `  Admin token:       ${slipway.adminTokenFile} (send as Authorization: Bearer <token>)`);
  }
  console.log(lines.join('\n'));

  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      console.error(`${signal} again: exiting now; unfinished builds are retried after their lease expires.`);
      process.exit(1);
    }
    console.error(`${signal}: no new builds are claimed; running builds get ${Math.round(config.shutdownGraceMs / 1000)}s to finish, the rest go back to the queue.`);
    slipway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('Shutdown failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

export const UP_OPTIONS = {
  port: { type: 'string' },
  'edge-port': { type: 'string' },
  'metrics-token': { type: 'string' },
  'metrics-port': { type: 'string' },
  'access-log': { type: 'string' },
  'log-keep': { type: 'string' },
  // HTTPS on the edge (config.httpsPort, tlsCertFile, tlsKeyFile)
  'https-port': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'data-dir': { type: 'string' },
  'secret-key-file': { type: 'string' },
  'database-url': { type: 'string' },
  'blob-url': { type: 'string' },
  'blob-cache-mb': { type: 'string' },
  'base-domain': { type: 'string' },
  'public-url': { type: 'string' },
  host: { type: 'string' },
  roles: { type: 'string' },
  'build-concurrency': { type: 'string' },
  'edge-workers': { type: 'string' },
  'health-port': { type: 'string' },
  'job-lease-ms': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  'build-timeout': { type: 'string' },
  'server-memory-mb': { type: 'string' },
  'server-request-timeout-ms': { type: 'string' },
  'server-idle-ms': { type: 'string' },
  'server-standby-ms': { type: 'string' },
  'gc-interval-minutes': { type: 'string' },
  // the sandbox's limits and allowed destinations (config.sandbox)
  'build-memory-mb': { type: 'string' },
  'build-pids': { type: 'string' },
  'build-disk-mb': { type: 'string' },
  'build-cpu-shares': { type: 'string' },
  'sandbox-tmp-mb': { type: 'string' },
  'server-pids': { type: 'string' },
  'sandbox-allow': { type: 'string' },
  'node-cache-dir': { type: 'string' },
  // custom domains: the DNS records they need (config.publicIps, config.cnameTarget)
  'public-ip': { type: 'string' },
  'cname-target': { type: 'string' },
  // automatic certificates (config.acme; see the README's "Automatic certificates (ACME)")
  'acme-directory': { type: 'string' },
  'acme-email': { type: 'string' },
  'acme-ca-file': { type: 'string' },
  'acme-challenge': { type: 'string' },
  'dns01-server': { type: 'string' },
  'dns01-zone': { type: 'string' },
  'dns01-tsig-name': { type: 'string' },
  'dns01-tsig-algorithm': { type: 'string' },
  'dns01-tsig-secret': { type: 'string' },
  // reporting deployments to the git host (config.gitHost; see the README's "The git host conversation")
  'github-token': { type: 'string' },
  'github-app-id': { type: 'string' },
  'github-app-private-key-file': { type: 'string' },
  'github-api-url': { type: 'string' },
  'gitlab-token': { type: 'string' },
  'gitlab-url': { type: 'string' },
  // notifications by mail and deploy commands by email (config.mail; see docs/notifications.md)
  'smtp-url': { type: 'string' },
  'smtp-from': { type: 'string' },
  'smtp-listen': { type: 'string' },
  'mail-domain': { type: 'string' },
  'notify-allow': { type: 'string' },
} as const;

export const upCommand: Command = {
  summary: 'Run Slipway (api, worker and edge) in this process',
  usage: [
    'slipway up [--port 3000] [--edge-port 8080] [--data-dir .slipway] [--base-domain localhost]',
    '           [--roles api,worker,edge] [--build-concurrency 1] [--edge-workers N]',
    '           [--database-url postgres://user:pass@host:5432/db] [--blob-url s3://bucket/prefix?endpoint=...] [--blob-cache-mb 2048]',
    '           [--https-port 443|off] [--tls-cert FILE --tls-key FILE]',
    '           [--build-memory-mb 4096] [--build-pids 4096] [--build-disk-mb 20480] [--build-cpu-shares 512]',
    '           [--sandbox-tmp-mb 1024] [--server-pids 1024] [--sandbox-allow 10.0.0.5:5432,...]',
    '           [--public-ip 203.0.113.7,...] [--cname-target edge.example.net]',
    '           [--smtp-url smtp://user:pass@host:587] [--smtp-listen 0.0.0.0:2525] [--notify-allow 10.0.0.7,...]',
    '           [--metrics-token SECRET] [--metrics-port 9464] [--access-log on|off] [--log-keep 10000]',
  ],
  options: UP_OPTIONS,
  flags: ['Every flag also reads from its SLIPWAY_* variable; see "Configuration" in the README.'],
  examples: ['slipway up                                  # everything on one machine, data in ./.slipway', 'slipway up --roles edge --edge-workers 4     # an edge node'],
  run: (ctx) => {
    if (ctx.positionals.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(ctx.positionals[0])}.`);
    const { json: _json, help: _help, url: _url, token: _token, ...flags } = ctx.values;
    return up(flags as ConfigInput);
  },
};
