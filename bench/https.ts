/**
 * HTTPS benchmark: the edge cluster's HTTPS port against nginx with TLS serving the same two
 * files (a 2 KB page, a 50 KB asset) with the same certificate: wrk over keep-alive
 * connections, new TLS handshakes per second (wrk with `Connection: close`), and HTTP/2
 * requests per second with h2load when it is installed.
 * Run it alone with `node dist/bench/https.js`; SLIPWAY_BENCH_SECONDS shortens the runs.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CERTIFICATE_NAME, selfSignedCertificate } from '../src/tls/default-certificate.js';
import { h2load, NGINX, pageAndAsset, startEdgeCluster, startNginx, storeBenchSite, treeCpuMicros, waitForAnswer, wrk, type BenchFile } from './load-tools.js';
import { median } from './stats.js';
import { freePort, stopChild } from './processes.js';

const HOST = 'bench.localhost';
const INSTALL_HINT = 'apt-get install -y nginx wrk nghttp2-client';

interface Target {
  name: string;
  port: number;
  /** root of the process tree whose CPU time counts */
  pid: number;
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  if (!existsSync(NGINX)) throw new Error(`nginx is not installed (${NGINX} is missing): ${INSTALL_HINT}`);
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error(`wrk is not installed: ${INSTALL_HINT}`);
  const hasH2load = spawnSync('h2load', ['--version']).error === undefined;
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '10');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '1'));
  const workers = availableParallelism();
  const files = pageAndAsset();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-https-'));
  const children: ChildProcess[] = [];
  try {
    const cert = selfSignedCertificate([HOST], 30);
    await writeFile(join(dir, 'cert.pem'), cert.certPem);
    await writeFile(join(dir, 'key.pem'), cert.keyPem);
    const configFile = await storeDeployment(dir, files, cert);
    const nginxPort = await freePort();
    const nginx = await startNginx({ dir, host: HOST, port: nginxPort, workers, files, tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
    children.push(nginx);
    const edge = await startEdge(configFile, workers, fileURLToPath(new URL('.', import.meta.url)));
    children.push(edge.child);
    const targets: Target[] = [
      { name: 'nginx', port: nginxPort, pid: nginx.pid ?? 0 },
      { name: 'edge', port: edge.port, pid: edge.child.pid ?? 0 },
    ];
    // SLIPWAY_BENCH_BASELINE=<another build's dist/bench>: that build's edge too, in the same rounds
    const baselineDir = process.env.SLIPWAY_BENCH_BASELINE;
    if (baselineDir !== undefined && baselineDir !== '') {
      const baseline = await startEdge(configFile, workers, baselineDir);
      children.push(baseline.child);
      targets.push({ name: 'baseline', port: baseline.port, pid: baseline.child.pid ?? 0 });
    }

    const measures: { label: string; run: (target: Target, seconds: number) => Promise<{ requests: number; requestsPerSec: number }> }[] = [];
    for (const file of files) measures.push({ label: `keep-alive ${file.label}`, run: (t, secs) => wrk({ port: t.port, host: HOST, path: file.path, seconds: secs, tls: true }) });
    measures.push({ label: 'new TLS connection per request (page)', run: (t, secs) => wrk({ port: t.port, host: HOST, path: files[0]!.path, seconds: secs, tls: true, closeEach: true }) });
    if (hasH2load) for (const file of files) measures.push({ label: `HTTP/2 h2load -c50 -m10 ${file.label}`, run: (t, secs) => h2load(t.port, HOST, file.path, secs) });

    // each measure runs on every target back to back (the order turning each round), so a
    // neighbour's load hits them alike; medians over rounds
    const results = new Map<string, { rps: number; cpu: number }[]>();
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const measure of measures) {
        for (const target of order) {
          await measure.run(target, Math.min(2, seconds)); // warm-up: JIT, cache, connections
          const before = await treeCpuMicros(target.pid);
          const result = await measure.run(target, seconds);
          const cpu = ((await treeCpuMicros(target.pid)) - before) / result.requests;
          const key = `${target.name}\n${measure.label}`;
          results.set(key, [...(results.get(key) ?? []), { rps: result.requestsPerSec, cpu }]);
        }
      }
    }

    const rows: Record<string, string | number>[] = [];
    for (const measure of measures) {
      const nginx = results.get(`nginx\n${measure.label}`) ?? [];
      for (const target of targets) {
        const runs = results.get(`${target.name}\n${measure.label}`) ?? [];
        rows.push({
          measure: measure.label,
          target: target.name,
          'req/s': Math.round(median(runs.map((r) => r.rps))),
          'CPU us/req': Math.round(median(runs.map((r) => r.cpu))),
          'x nginx': target.name === 'nginx' ? '' : `${Math.round(median(runs.map((r, i) => r.rps / (nginx[i]?.rps ?? Number.NaN))) * 100)} %`,
        });
      }
    }
    return {
      title: `HTTPS: Slipway edge vs nginx with TLS (${workers} worker processes each, ${seconds}s runs, ${rounds} round(s))`,
      rows,
      notes: [
        `${workers} CPU(s) shared by the load generator, nginx and the edge: the ratio is what matters. SLIPWAY_BENCH_ROUNDS=3 takes the median of back-to-back runs; SLIPWAY_BENCH_BASELINE=<other build>/dist/bench adds that build's edge to the same rounds.`,
        "CPU us/req: CPU time of the server's processes (all workers and the primary) per request; it moves less with neighbours' load than req/s.",
        'keep-alive: wrk -t2 -c50 over HTTPS/1.1; new TLS connection: the same with "Connection: close", so every request is a full handshake (wrk does not resume sessions); HTTP/2: h2load -t2 -c50 -m10.',
        'target: edge >= 70 % of nginx on keep-alive HTTPS.',
        "edge over HTTPS/1.1 (wrk offers no ALPN, which counts as HTTP/1.1): the same fast path as plain HTTP (src/edge/http1-fast.ts) takes each HTTP/1.1 connection from node:http2 after the handshake and answers files in memory with the pre-serialised response; what remains per request is mostly TLS's own encryption and write. HTTP/2 streams have their own fast path (src/edge/h2-static.ts). A new connection per request (Connection: close) goes to node:http after the fast path read its head.",
        'Same ECDSA P-256 certificate on both. nginx: worker_processes = edge workers, ssl_session_cache shared:SSL:10m, session tickets, http2, sendfile, keepalive_requests 100000, access_log off.',
        hasH2load ? 'h2load connects to 127.0.0.1 with SNI and :authority bench.localhost (--connect-to).' : `h2load is not installed: no HTTP/2 figures (${INSTALL_HINT}).`,
      ],
    };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The bench site (bench/load-tools.ts's page and asset) with its certificate, and the worker config naming them; returns the config path. */
async function storeDeployment(dir: string, files: BenchFile[], cert: { certPem: string; keyPem: string }): Promise<string> {
  const { blobRoot, manifestHash } = await storeBenchSite(dir, files);
  const configFile = join(dir, 'edge-config.json');
  const certificates = [
    { names: [HOST], source: 'acme', ...cert },
    { names: [DEFAULT_CERTIFICATE_NAME], source: 'self-signed', ...selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 30) },
  ];
  await writeFile(configFile, JSON.stringify({ blobRoot, hosts: { [HOST]: { deploymentId: 'dpl_bench', manifestHash } }, platformKey: randomBytes(32).toString('base64'), certificates }));
  return configFile;
}

/** The edge cluster of the build whose dist/bench is `benchDir` (this one, or SLIPWAY_BENCH_BASELINE). */
async function startEdge(configFile: string, workers: number, benchDir: string): Promise<{ child: ChildProcess; port: number }> {
  const httpsPort = await freePort();
  const { child } = await startEdgeCluster(join(benchDir, 'https-primary.js'), ['0', String(httpsPort), String(workers)], { SLIPWAY_BENCH_HTTPS_CONFIG: configFile });
  try {
    await waitForAnswer(httpsPort, HOST, child, true);
    return { child, port: httpsPort };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

// run directly: print the table
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await run();
  console.log(result.title);
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
