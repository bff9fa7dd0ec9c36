import { parseArgs } from 'node:util';
import { AppError } from '../errors/index.js';
import { ApiError } from './client.js';
import { commands } from './commands.js';
import { up } from './up.js';

const HELP = `slipway: git push becomes a live website

Usage:
  slipway up [--port 3000] [--edge-port 8080] [--data-dir .slipway] [--base-domain localhost]
             [--roles api,worker,edge] [--build-concurrency 1] [--edge-workers N]
             [--https-port 443|off] [--tls-cert FILE --tls-key FILE]
             [--build-memory-mb 4096] [--build-pids 4096] [--build-disk-mb 20480] [--build-cpu-shares 512]
             [--sandbox-tmp-mb 1024] [--server-pids 1024] [--sandbox-allow 10.0.0.5:5432,...]
             [--public-ip 203.0.113.7,...] [--cname-target edge.example.net]
  slipway projects                                  list projects
  slipway create <name> --repo <url> [--branch main] [--build-command ..] [--output-directory ..]
                 [--server-memory-mb 512] [--server-request-timeout 60] [--build-memory-mb 2048] [--build-disk-mb 10240]
                 [--build-pids 2048] [--server-pids 512]
                 [--node-version 22]
  slipway deploy [--project P] [--ref main] [--prod] deploy and follow the build log
  slipway deployments [--project P]                 list deployments, newest first
  slipway logs <deployment-id> [--follow]           print a build log
  slipway promote <deployment-id>                   make a ready deployment production
  slipway rollback [--project P] [--to <deployment-id>]
  slipway env ls [--project P]                      list environment variables (values are never shown)
  slipway env set <KEY> [VALUE] [--target production|preview]...
                                                    set one (no VALUE: read from stdin); applies to the next deployment
  slipway env rm <KEY> [--project P]                remove one
  slipway domains add <project> <name> [--redirect-to <host>] [--redirect-status 308]
                                                    add a custom domain; prints the DNS record to create
  slipway domains ls <project>                      list a project's domains with their status
  slipway domains rm <project> <name>               remove one (no longer served)
  slipway domains verify <project> <name>           check its DNS now

API commands take --url (SLIPWAY_URL, default http://localhost:3000) and --token
(SLIPWAY_TOKEN, default: the admin-token file in --data-dir).`;

const UP_OPTIONS = {
  port: { type: 'string' },
  'edge-port': { type: 'string' },
  // HTTPS on the edge (config.httpsPort, tlsCertFile, tlsKeyFile)
  'https-port': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'data-dir': { type: 'string' },
  'base-domain': { type: 'string' },
  'public-url': { type: 'string' },
  host: { type: 'string' },
  roles: { type: 'string' },
  'build-concurrency': { type: 'string' },
  'edge-workers': { type: 'string' },
  'job-lease-ms': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  'build-timeout': { type: 'string' },
  'server-memory-mb': { type: 'string' },
  'server-request-timeout-ms': { type: 'string' },
  'server-idle-ms': { type: 'string' },
  'server-standby-ms': { type: 'string' },
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
} as const;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(HELP);
    return;
  }
  if (command === 'up') {
    const { values } = parseArgs({ args: rest, options: UP_OPTIONS, strict: true });
    return up(values);
  }
  const run = commands[command];
  if (run === undefined) throw new AppError('BAD_REQUEST', `Unknown command "${command}".`, { hint: 'Run "slipway help" for the list of commands.' });
  await run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ApiError || err instanceof AppError) {
    console.error(`Error: ${err.message}`);
    if (err.hint !== undefined) console.error(`Hint: ${err.hint}`);
  } else if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true) {
    console.error(`Error: ${err.message}\nRun "slipway help" for usage.`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
