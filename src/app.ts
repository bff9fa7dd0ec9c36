import { sweepSandboxes } from './sandbox/index.js';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCertificateManager } from './acme/index.js';
import { buildApi } from './api/server.js';
import { ensureFirstOwner } from './auth/index.js';
import { checkBucket, openBlobs } from './blobs/index.js';
import type { Config } from './config/index.js';
import { announceEdge, createEdgeServer, serveRuntime, startEdgeCluster } from './edge/index.js';
import { EDGE_CONFIG_ENV } from './edge/worker-main-env.js';
import { HTTPS_PORT_ENV } from './edge/worker.js';
import { ensureDefaultCertificate } from './tls/default-certificate.js';
import { createStoreTlsSource } from './tls/edge-source.js';
import { readOperatorCertificate } from './tls/operator-certificate.js';
import { AppError, toError } from './errors/index.js';
import { checkStore, readiness, startHealthListener } from './health/index.js';
import { Events } from './events.js';
import { Queue } from './queue/index.js';
import { createStoreLookup } from './routing/index.js';
import { deploymentServerSettings, flagIntegrityError } from './deployments/index.js';
import { startDomainChecks } from './domains/index.js';
import { startAwsDomainChecks } from './targets/aws/index.js';
import { checkGitHostConfig, startGitHostReporter } from './githost/index.js';
import { startMail } from './mail/start.js';
import { diskHealth, startCollector, watchDiskSpace } from './retention/index.js';
import { createRuntimeGateway, type ServerLimits } from './runtime/index.js';
import { loadSecretKey, SecretBox } from './secrets.js';
import { listenForChanges, openStore, type Store } from './store/index.js';
import { checkPlatformKey } from './store/key-check.js';
import { runAsLeader } from './store/leader.js';
import { startWorker, type WorkerHandle } from './worker/index.js';
import { startLogDrains } from './access-log/index.js';
import { startObservability } from './metrics/index.js';
import { logger } from './log/index.js';

export interface Slipway {
  config: Config;
  store: Store;
  /** the bound ports (differ from config when it asked for port 0) */
  apiPort: number | undefined;
  edgePort: number | undefined;
  /** the bound HTTPS port; undefined: HTTPS is off */
  httpsPort: number | undefined;
  /** the bound --metrics-port; undefined: none asked for */
  metricsPort: number | undefined;
  adminToken: string;
  adminTokenFile: string | undefined;
  /** stop taking work, let builds finish within the grace period, release the rest */
  close(graceMs?: number): Promise<void>;
}

/** Start the roles this process runs, on the embedded backends under the data dir. */
export async function startSlipway(requested: Config): Promise<Slipway> {
  let config = requested;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.roles.includes('worker')) checkGitHostConfig(config.gitHost);
  const { token: adminToken, file: adminTokenFile } = await loadAdminToken(config);
  const platformKey = await loadSecretKey(config.secretKeyFile);
  const box = new SecretBox(platformKey);
  // edge worker processes get their own pools (see startEdgeCluster below), so they do not count here
  const store = await openStore(config, { roles: config.edgeWorkers === 0 ? config.roles : config.roles.filter((r) => r !== 'edge') });
  await checkPlatformKey(store.db, platformKey, config.secretKeyFile).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // sandboxes run as another uid that may have to pass through the data dir (see sandbox/):
  // what must stay private is private by its own mode
  if (store.dialect === 'sqlite') for (const name of ['slipway.db', 'slipway.db-wal', 'slipway.db-shm']) await chmod(join(config.dataDir, name), 0o600).catch(() => undefined);
  // a Slipway killed with SIGKILL may have left builds or servers running: nothing survives it
  const swept = await sweepSandboxes();
  if (swept.processes + swept.networks > 0) {
    logger('slipway').warn(`Swept what a stopped Slipway left: ${swept.processes} sandboxed processes, ${swept.networks} sandbox networks`);
  }
  // the directory <data-dir>/blobs, or the bucket of --blob-url (edge, runtime and worker through <data-dir>/blob-cache)
  const opened = await openBlobs(config);
  if (opened.remote !== undefined)
    await checkBucket(opened.remote).catch(async (err: unknown) => {
      await opened.close();
      await store.close();
      throw err;
    });
  const blobs = opened.files;
  const queue = new Queue(store, { leaseMs: config.jobLeaseMs });
  const events = new Events();
  const closers: Array<(graceMs: number) => Promise<void>> = [];
  /** what /readyz checks beyond the store, per role this process runs (see ./health) */
  const readyChecks: Record<string, () => string> = {};
  // metrics of every role here, and the access log of an edge served in this process (closed last, see below)
  const observability = await startObservability({ config: config.observability, host: config.host, store, roles: config.roles, edgeInProcess: config.edgeWorkers === 0 });

  let worker: WorkerHandle | undefined;
  if (config.roles.includes('worker') && config.buildConcurrency > 0) {
    worker = startWorker({ store, queue, blobs, sharedCacheBlobs: opened.remote, config, events, box, metrics: observability.metrics });
    const w = worker;
    closers.push((grace) => w.stop(grace));
  }
  // retention and garbage collection on a schedule (one worker at a time: a lease in the store)
  if (config.roles.includes('worker') && config.gcIntervalMinutes > 0) {
    const collector = startCollector(
      { store, blobs, dataDir: config.dataDir, aws: { box, endpoints: config.awsEndpoints } },
      { everyMs: config.gcIntervalMinutes * 60_000, log: (line) => console.log(line) },
    );
    closers.push(() => collector.stop());
  }
  // a warning in the log and in /healthz before the data dir's disk fills
  const disk = watchDiskSpace(config.dataDir, (line) => console.warn(line));
  closers.push(async () => disk.stop());

  let edgePort: number | undefined;
  let httpsPort: number | undefined;
  if (config.roles.includes('edge')) {
    const https = config.httpsPort !== undefined;
    // made once here, before any edge process loads the certificates: all present the same one
    if (https) await ensureDefaultCertificate(store.db, box);
    const operator = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined;
    if (https && operator !== undefined) await checkOperatorCertificate(operator.certFile, operator.keyFile);
    const flag = (deploymentId: string, reason: string) => flagIntegrityError(store.db, deploymentId, reason);
    const serverOutput = (deploymentId: string, line: string) => observability.writer.serverLine(deploymentId, line);
    if (config.edgeWorkers === 0) {
      const { gateway, runtime } = createRuntimeGateway(blobs, config.dataDir, serverLimits(config), (id) => deploymentServerSettings(store.db, box, id), flag, serverOutput);
      observability.watchRuntime(() => runtime.status());
      const tls = https ? { source: createStoreTlsSource(store.db, box), platformKey, ...(operator === undefined ? {} : { operator }) } : undefined;
      const changes = config.databaseUrl === undefined ? undefined : listenForChanges(config.databaseUrl);
      const presence = await announceEdge({ store, changes });
      const edge = createEdgeServer({
        lookup: createStoreLookup(store, config.baseDomain, config.awsEndpoints),
        blobs,
        servers: gateway,
        standbyMs: config.serverStandbyMs,
        // PostgreSQL: notified of moves, polled once a second as the safety net (see store/notify.ts)
        ...(changes === undefined ? {} : { changes, pollMs: 1000 }),
        served: (generation) => presence.served(generation),
        observer: observability.observer,
        ...(tls === undefined ? {} : { tls }),
      });
      presence.answerWarmRequests((site) => edge.warm(site));
      readyChecks.edge = () => (edge.ready() ? 'ok' : 'the edge has not loaded its routes yet');
      events.on('alias-moved', () => void edge.refresh());
      await listen(edge.server, config.edgePort, config.host);
      edgePort = (edge.server.address() as AddressInfo).port;
      if (edge.https !== undefined) {
        await edge.https.ready;
        await listen(edge.https.server, config.httpsPort ?? 443, config.host);
        httpsPort = (edge.https.server.address() as AddressInfo).port;
      }
      closers.push(async () => {
        await presence.close();
        await changes?.close();
        await edge.close();
        await runtime.close();
      });
    } else {
      // one runtime for the node, here in the primary: the workers ask it for servers over IPC
      const limits = serverLimits(config);
      const { gateway, runtime } = createRuntimeGateway(blobs, config.dataDir, limits, (id) => deploymentServerSettings(store.db, box, id), flag, serverOutput);
      observability.watchRuntime(() => runtime.status());
      const served = serveRuntime(gateway, runtime, limits.idleMs);
      const stopRuntime = async () => {
        served.close();
        await runtime.close();
      };
      // node:cluster shares one listening socket per (address, port): two port 0s would be one
      if (https) httpsPort = config.httpsPort === 0 ? await freePort(config.host) : config.httpsPort;
      const httpsConfig = https ? { tlsCertFile: config.tlsCertFile, tlsKeyFile: config.tlsKeyFile } : undefined;
      const cluster = await startEdgeCluster({
        workers: config.edgeWorkers,
        port: config.edgePort,
        host: config.host,
        listensPerWorker: https ? 2 : 1,
        workerModule: fileURLToPath(new URL('./edge/worker-main.js', import.meta.url)),
        env: {
          [EDGE_CONFIG_ENV]: JSON.stringify({
            dataDir: config.dataDir,
            secretKeyFile: config.secretKeyFile,
            databaseUrl: config.databaseUrl,
            blobUrl: config.blobUrl,
            blobCacheMb: config.blobCacheMb,
            baseDomain: config.baseDomain,
            awsEndpoint: config.awsEndpoints.api,
            standbyMs: config.serverStandbyMs,
            https: httpsConfig,
            observability: { accessLog: config.observability.accessLog, logKeep: config.observability.logKeep },
          }),
          ...(httpsPort === undefined ? {} : { [HTTPS_PORT_ENV]: String(httpsPort) }),
        },
      }).catch(async (error: unknown) => {
        await stopRuntime();
        throw error;
      });
      edgePort = cluster.port;
      // the servers stop once no worker can proxy to them any more
      closers.push(async () => {
        await cluster.close();
        await stopRuntime();
      });
    }
  }

  const ready = async () => readiness({ store: await checkStore(store), ...Object.fromEntries(Object.entries(readyChecks).map(([role, check]) => [role, check()])) });
  const health = async () => ({
    ...(config.roles.includes('api') ? { api: 'ok' } : {}),
    disk: diskHealth(await disk.check()),
    ...(worker === undefined ? {} : { worker: { id: worker.id, running: worker.running(), concurrency: config.buildConcurrency } }),
    ...(edgePort === undefined ? {} : { edge: { port: edgePort, ...(httpsPort === undefined ? {} : { httpsPort }), processes: Math.max(1, config.edgeWorkers) } }),
  });
  // a process without the api (a worker, an edge primary) still answers its load balancer or supervisor
  if (config.healthPort !== undefined) {
    const listener = await startHealthListener({ port: config.healthPort, host: config.host, health, ready });
    closers.push(() => listener.close());
  }

  let apiPort: number | undefined;
  if (config.roles.includes('api')) {
    // URLs the API hands out (webhook, site URLs) must carry the ports actually bound
    const port = config.port === 0 ? await freePort(config.host) : config.port;
    config = Object.freeze({
      ...config,
      port,
      edgePort: edgePort ?? config.edgePort,
      publicUrl: config.publicUrlSet ? config.publicUrl : `http://localhost:${port}`,
    });
    const api = buildApi({
      config,
      store,
      queue,
      blobs: opened.store,
      box,
      events,
      adminToken,
      metrics: { token: config.observability.metricsToken, text: observability.text },
      health,
      ready,
    });
    // accounts: the first owner from SLIPWAY_ADMIN_EMAIL/PASSWORD, or how to make one
    const firstOwner = await ensureFirstOwner(store, config);
    if (firstOwner !== undefined) console.log(firstOwner);
    await api.listen({ port: config.port, host: config.host });
    apiPort = (api.server.address() as AddressInfo).port;
    // the api stops first: no new work arrives while the rest winds down
    closers.unshift(() => api.close());
    // custom domains' DNS, rechecked with backoff (see domains/status.ts)
    const domainChecks = startDomainChecks(store, config);
    closers.push(() => domainChecks.stop());
    // custom domains of projects on AWS: their ACM certificates and the distribution's aliases
    const awsDomainChecks = startAwsDomainChecks({ store, box, config });
    closers.push(() => awsDomainChecks.stop());
    // projects' logs to their drain URLs, in batches, away from the edge
    const drains = startLogDrains({ store, box });
    closers.push(() => drains.stop());
    // certificates from the ACME CA for domains whose DNS is right, renewed before they expire
    // (one api process of the installation at a time: two would order every certificate twice)
    if (config.httpsPort !== undefined && config.acme.directory !== undefined) {
      const certificates = runAsLeader({ databaseUrl: config.databaseUrl, name: 'certificates', log: (m) => console.error(`[acme] ${m}`) }, () =>
        startCertificateManager({ db: store.db, box, config }),
      );
      closers.push(() => certificates.stop());
    }
  }

  // the git host hears about deployments from the worker role, with the URLs the api hands out
  if (config.roles.includes('worker')) {
    const reporter = startGitHostReporter({ store, config, box, events });
    closers.push(() => reporter.stop());
  }
  // notifications (worker role) and mailed deploy commands (--smtp-listen), see src/mail/start.ts
  const mail = await startMail({ store, queue, config, box, events });
  closers.push(() => mail.stop());

  // after every role: the last access log batch and server lines still reach the store
  closers.push(() => observability.close());

  let closed: Promise<void> | undefined;
  return {
    config,
    store,
    apiPort,
    edgePort,
    httpsPort,
    metricsPort: observability.metricsPort,
    adminToken,
    adminTokenFile,
    close(graceMs = config.shutdownGraceMs) {
      closed ??= (async () => {
        for (const close of closers) await close(graceMs);
        await opened.close();
        await store.close();
      })();
      return closed;
    },
  };
}

/** A certificate the operator gave that cannot be served stops the start with what is wrong (the edges would only log it). */
async function checkOperatorCertificate(certFile: string, keyFile: string): Promise<void> {
  try {
    await readOperatorCertificate(certFile, keyFile);
  } catch (error) {
    throw new AppError('CONFIG', `--tls-cert/--tls-key cannot be served: ${toError(error).message}.`, {
      cause: error,
      hint: 'Give a PEM certificate chain (leaf first) and its PEM private key, e.g. --tls-cert /etc/slipway/site.crt --tls-key /etc/slipway/site.key',
    });
  }
}

function serverLimits(config: Config): ServerLimits {
  return {
    memoryMb: config.serverMemoryMb,
    requestTimeoutMs: config.serverRequestTimeoutMs,
    idleMs: config.serverIdleMs,
    pids: config.sandbox.serverPids,
    tmpMb: config.sandbox.tmpMb,
    allow: config.sandbox.allow,
    nodeCacheDir: config.nodeCacheDir,
  };
}

/** SLIPWAY_ADMIN_TOKEN, else the token in <data-dir>/admin-token, made once with mode 0600. */
async function loadAdminToken(config: Config): Promise<{ token: string; file: string | undefined }> {
  if (config.adminToken !== undefined) return { token: config.adminToken, file: undefined };
  const file = join(config.dataDir, 'admin-token');
  try {
    return { token: (await readFile(file, 'utf8')).trim(), file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = `slp_${randomBytes(24).toString('hex')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { token, file };
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listen(server: import('node:net').Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
