/**
 * HTTPS benchmark: the edge cluster's HTTPS port against nginx with TLS serving the same two
 * files (a 2 KB page, a 50 KB asset) with the same certificate: wrk over keep-alive
 * connections, new TLS handshakes per second (wrk with `Connection: close`), and HTTP/2
 * requests per second with h2load when it is installed.
 * Run it alone with `node dist/bench/https.js`; SLIPWAY_BENCH_SECONDS shortens the runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, sha256 } from '../src/blobs/index.js';
import type { Manifest } from '../src/manifest/index.js';
import { DEFAULT_CERTIFICATE_NAME, selfSignedCertificate } from '../src/tls/default-certificate.js';
import { parseWrk, treeCpuMicros, type WrkResult } from './static.js';
import { median } from './stats.js';
import { freePort, stopChild } from './processes.js';

const NGINX = '/usr/sbin/nginx';
const HOST = 'bench.localhost';
const INSTALL_HINT = 'apt-get install -y nginx wrk nghttp2-client';

interface BenchFile {
  label: string;
  path: string;
  type: string;
  body: Buffer;
}

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
  const files = benchFiles();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-https-'));
  const children: ChildProcess[] = [];
  try {
    const cert = selfSignedCertificate([HOST], 30);
    await writeFile(join(dir, 'cert.pem'), cert.certPem);
    await writeFile(join(dir, 'key.pem'), cert.keyPem);
    const configFile = await storeDeployment(dir, files, cert);
    const nginxPort = await freePort();
    const nginx = await startNginx(dir, files, nginxPort, workers);
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
    for (const file of files) measures.push({ label: `keep-alive ${file.label}`, run: (t, secs) => wrk(t.port, file.path, secs, false) });
    measures.push({ label: 'new TLS connection per request (page)', run: (t, secs) => wrk(t.port, files[0]!.path, secs, true) });
    if (hasH2load) for (const file of files) measures.push({ label: `HTTP/2 h2load -c50 -m10 ${file.label}`, run: (t, secs) => h2load(t.port, file.path, secs) });

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
        'Same ECDSA P-256 certificate on both. nginx: worker_processes = edge workers, ssl_session_cache shared:SSL:10m, session tickets, http2, sendfile, keepalive_requests 100000, access_log off.',
        hasH2load ? 'h2load connects to 127.0.0.1 with SNI and :authority bench.localhost (--connect-to).' : `h2load is not installed: no HTTP/2 figures (${INSTALL_HINT}).`,
      ],
    };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/** the files of bench/static.ts: a 2 KB HTML page and a 50 KB script, deterministic */
function benchFiles(): BenchFile[] {
  let html = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Bench</title></head>\n<body>\n';
  for (let i = 0; html.length < 2048 - 20; i++) html += `<p>Paragraph ${i} of the benchmark page.</p>\n`;
  html = `${html}</body></html>\n`.padEnd(2048, ' ');
  let js = '';
  for (let i = 0; js.length < 50 * 1024 - 64; i++) js += `export function f${i}(x) { return x * ${i} + ${(i * 7919) % 1000}; }\n`;
  return [
    { label: 'page 2 KB', path: '/', type: 'text/html; charset=utf-8', body: Buffer.from(html) },
    { label: 'asset 50 KB', path: '/assets/app-Bx2k9Qz7.js', type: 'text/javascript; charset=utf-8', body: Buffer.from(js.padEnd(50 * 1024, ' ')) },
  ];
}

/** Blobs + manifest under `<dir>/blobs` and the worker's config; returns the config's path. */
async function storeDeployment(dir: string, files: BenchFile[], cert: { certPem: string; keyPem: string }): Promise<string> {
  const blobRoot = join(dir, 'blobs');
  const blobs = new LocalBlobStore(blobRoot);
  const manifest: Manifest = { version: 1, files: {} };
  for (const file of files) {
    const hash = sha256(file.body);
    await blobs.put(hash, file.body);
    manifest.files[file.path === '/' ? 'index.html' : file.path.slice(1)] = { hash, size: file.body.length, type: file.type };
  }
  const json = Buffer.from(JSON.stringify(manifest));
  await blobs.put(sha256(json), json);
  const configFile = join(dir, 'edge-config.json');
  const certificates = [
    { names: [HOST], source: 'acme', ...cert },
    { names: [DEFAULT_CERTIFICATE_NAME], source: 'self-signed', ...selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 30) },
  ];
  await writeFile(
    configFile,
    JSON.stringify({ blobRoot, hosts: { [HOST]: { deploymentId: 'dpl_bench', manifestHash: sha256(json) } }, platformKey: randomBytes(32).toString('base64'), certificates }),
  );
  return configFile;
}

async function startNginx(dir: string, files: BenchFile[], port: number, workers: number): Promise<ChildProcess> {
  const www = join(dir, 'www');
  for (const file of files) {
    const target = join(www, file.path === '/' ? 'index.html' : file.path.slice(1));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, file.body);
  }
  // nginx workers run as "nobody" when started by root: let them read the files
  for (const d of [dir, www, join(www, 'assets')]) await chmod(d, 0o755);
  await chmod(join(dir, 'key.pem'), 0o644);
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 100000;
  open_file_cache max=1000 inactive=60s;
  ssl_certificate ${join(dir, 'cert.pem')};
  ssl_certificate_key ${join(dir, 'key.pem')};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets on;
  client_body_temp_path ${join(dir, 'nginx-client-body')};
  proxy_temp_path ${join(dir, 'nginx-proxy')};
  fastcgi_temp_path ${join(dir, 'nginx-fastcgi')};
  uwsgi_temp_path ${join(dir, 'nginx-uwsgi')};
  scgi_temp_path ${join(dir, 'nginx-scgi')};
  types { text/html html; text/javascript js; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} ssl http2;
    server_name ${HOST};
    root ${www};
    location / { try_files $uri $uri/ =404; }
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitForHttps(port, child);
  } catch (error) {
    await stopChild(child);
    throw new Error(`nginx did not start: ${stderr.trim()}`, { cause: error });
  }
  return child;
}

/** The edge cluster of the build whose dist/bench is `benchDir` (this one, or SLIPWAY_BENCH_BASELINE). */
async function startEdge(configFile: string, workers: number, benchDir: string): Promise<{ child: ChildProcess; port: number }> {
  const httpsPort = await freePort();
  const primary = join(benchDir, 'https-primary.js');
  const child = spawn(process.execPath, [primary, '0', String(httpsPort), String(workers)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, SLIPWAY_BENCH_HTTPS_CONFIG: configFile },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/listening \d+/.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`edge cluster exited with code ${code} before listening`)));
      setTimeout(() => reject(new Error('edge cluster did not listen within 20 s')), 20_000).unref();
    });
    await waitForHttps(httpsPort, child);
    return { child, port: httpsPort };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

function wrk(port: number, path: string, seconds: number, closeEach: boolean): Promise<WrkResult> {
  const args = ['-t2', '-c50', `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, ...(closeEach ? ['-H', 'Connection: close'] : []), `https://127.0.0.1:${port}${path}`];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`wrk exited with code ${code}`);
        resolve(parseWrk(out));
      } catch (error) {
        reject(new Error(`wrk against https port ${port}${path} failed:\n${out}`, { cause: error }));
      }
    });
  });
}

/** requests and requests per second of h2load over HTTP/2 (2 threads, 50 connections, 10 streams each) */
function h2load(port: number, path: string, seconds: number): Promise<{ requests: number; requestsPerSec: number }> {
  const args = ['-t2', '-c50', '-m10', '-D', String(seconds), '--warm-up-time=1', `--connect-to=127.0.0.1:${port}`, `https://${HOST}${path}`];
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1];
      const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
      const done = /requests: \d+ total, \d+ started, (\d+) done/.exec(out)?.[1];
      const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
      if (rps === undefined || done === undefined || codes === null || Number(codes[3]) + Number(codes[4]) > 0 || protocol !== 'h2') {
        reject(new Error(`h2load against port ${port}${path} failed (or not HTTP/2, or non-2xx answers):\n${out}`));
      } else resolve({ requests: Number(done), requestsPerSec: Number(rps) });
    });
  });
}

/** Resolve once GET / answers 200 over TLS with our SNI and Host; reject if `child` exits first or after 10 s. */
async function waitForHttps(port: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode})`);
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', servername: HOST, headers: { host: HOST }, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing answered over HTTPS on port ${port} within 10 s`);
}

// run directly: print the table
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await run();
  console.log(result.title);
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
