/**
 * Static-file benchmark: the edge cluster against nginx serving the same two files
 * (a 2 KB HTML page and a 50 KB JS asset), measured with wrk over keep-alive connections.
 * Run it alone with `node dist/bench/static.js`; SLIPWAY_BENCH_SECONDS shortens the runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, sha256 } from '../src/blobs/index.js';
import type { Manifest } from '../src/manifest/index.js';
import { freePort, stopChild } from './processes.js';

const NGINX = '/usr/sbin/nginx';
const HOST = 'bench.localhost';
const INSTALL_HINT = 'apt-get install -y nginx wrk';

interface BenchFile {
  label: string;
  path: string;
  type: string;
  body: Buffer;
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  p99Ms: number;
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  requireTools();
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '10');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '1'));
  const workers = availableParallelism();
  const policies = (process.env.SLIPWAY_BENCH_EDGE_POLICIES ?? 'none,rr').split(',').filter((p): p is 'none' | 'rr' => p === 'none' || p === 'rr');
  const files = benchFiles();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-static-'));
  const children: ChildProcess[] = [];
  try {
    const configFile = await storeDeployment(dir, files);
    const nginxPort = await freePort();
    const nginx = await startNginx(dir, files, nginxPort);
    children.push(nginx);
    const targets: Target[] = [{ name: 'nginx', port: nginxPort, pid: nginx.pid ?? 0 }];
    for (const policy of policies) {
      const edge = await startEdge(configFile, workers, policy);
      children.push(edge.child);
      targets.push({ name: `edge (${policy === 'rr' ? 'SCHED_RR' : 'SCHED_NONE'})`, port: edge.port, pid: edge.child.pid ?? 0 });
    }
    // SLIPWAY_BENCH_BASELINE=<another build's dist/bench>: that build's edge too, in the same rounds
    const baselineDir = process.env.SLIPWAY_BENCH_BASELINE;
    if (baselineDir !== undefined && baselineDir !== '') {
      const baseline = await startEdge(configFile, workers, 'none', baselineDir);
      children.push(baseline.child);
      targets.push({ name: 'baseline (SCHED_NONE)', port: baseline.port, pid: baseline.child.pid ?? 0 });
    }

    // targets are measured back to back within each round, so a neighbour's load on a shared
    // machine hits them alike; each figure is the median over rounds
    const results = new Map<string, Measurement[]>();
    for (let round = 0; round < rounds; round++) {
      for (const file of files) {
        for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
          const key = `${target.name}\n${file.label}`;
          results.set(key, [...(results.get(key) ?? []), await measure(target, file.path, seconds)]);
        }
      }
    }

    const rows: Record<string, string | number>[] = [];
    for (const file of files) {
      const baseline = results.get(`nginx\n${file.label}`) ?? [];
      for (const target of targets) {
        const runs = results.get(`${target.name}\n${file.label}`) ?? [];
        const ratios = runs.map((run, i) => run.requestsPerSec / (baseline[i]?.requestsPerSec ?? Number.NaN));
        rows.push({
          target: target.name,
          file: file.label,
          'req/s': Math.round(median(runs.map((r) => r.requestsPerSec))),
          'p99 ms': median(runs.map((r) => r.p99Ms)),
          'CPU us/req': Math.round(median(runs.map((r) => r.cpuMicrosPerRequest))),
          'edge/nginx': target.name === 'nginx' ? '' : `${Math.round(median(ratios) * 100)} %`,
        });
      }
    }

    return {
      title: `Static files: Slipway edge vs nginx (wrk -t2 -c50 -d${seconds}s --latency, keep-alive, ${workers} workers each, ${rounds} round(s))`,
      rows,
      notes: [
        `${workers} CPU(s) shared by wrk, nginx and the edge: absolute numbers are low, the ratio is what matters. On a busy machine use SLIPWAY_BENCH_ROUNDS=3 (median of back-to-back runs).`,
        "CPU us/req: CPU time of the server processes (all workers, and the primary) per request served; it moves less with neighbours' load than req/s.",
        'targets: edge >= 60 % of nginx for the page, >= 80 % for the asset.',
        'nginx: worker_processes auto, sendfile, tcp_nopush, open_file_cache, access_log off; keepalive_requests raised to 100000 (the edge never closes a busy keep-alive connection either).',
        'edge: whole responses from its in-memory blob cache through the raw fast path; nginx sends the 50 KB asset with sendfile (no copy), the edge must copy it into the socket, which is most of the gap on the asset.',
        'SCHED_NONE: every worker accepts on the shared socket; SCHED_RR: the primary accepts and hands connections out. With keep-alive the policy matters only at connect time.',
      ],
    };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

interface Target {
  name: string;
  port: number;
  /** root of the process tree whose CPU time counts */
  pid: number;
}

interface Measurement extends WrkResult {
  cpuMicrosPerRequest: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

function requireTools(): void {
  if (!existsSync(NGINX)) throw new Error(`nginx is not installed (${NGINX} is missing): ${INSTALL_HINT}`);
  const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (wrk.error !== undefined) throw new Error(`wrk is not installed: ${INSTALL_HINT}`);
}

/** A 2 KB HTML page and a 50 KB script, deterministic so runs compare. */
function benchFiles(): BenchFile[] {
  let html = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Bench</title>\n<script type="module" src="/assets/app-Bx2k9Qz7.js"></script></head>\n<body>\n';
  for (let i = 0; html.length < 2048 - 20; i++) html += `<p>Paragraph ${i} of the benchmark page.</p>\n`;
  html = `${html}</body></html>\n`.padEnd(2048, ' ');
  let js = '';
  for (let i = 0; js.length < 50 * 1024 - 64; i++) js += `export function f${i}(x) { return x * ${i} + ${(i * 7919) % 1000}; }\n`;
  js = js.padEnd(50 * 1024, ' ');
  return [
    { label: 'page 2 KB', path: '/', type: 'text/html; charset=utf-8', body: Buffer.from(html) },
    { label: 'asset 50 KB', path: '/assets/app-Bx2k9Qz7.js', type: 'text/javascript; charset=utf-8', body: Buffer.from(js) },
  ];
}

/** Blobs + manifest in `<dir>/blobs`, and the worker config naming them; returns the config path. */
async function storeDeployment(dir: string, files: BenchFile[]): Promise<string> {
  const blobRoot = join(dir, 'blobs');
  const blobs = new LocalBlobStore(blobRoot);
  const manifest: Manifest = { version: 1, files: {} };
  for (const file of files) {
    const hash = sha256(file.body);
    await blobs.put(hash, file.body);
    manifest.files[file.path === '/' ? 'index.html' : file.path.slice(1)] = { hash, size: file.body.length, type: file.type };
  }
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestHash = sha256(json);
  await blobs.put(manifestHash, json);
  const configFile = join(dir, 'edge-config.json');
  await writeFile(configFile, JSON.stringify({ blobRoot, hosts: { [HOST]: { deploymentId: 'dpl_bench', manifestHash } } }));
  return configFile;
}

async function startNginx(dir: string, files: BenchFile[], port: number): Promise<ChildProcess> {
  const www = join(dir, 'www');
  for (const file of files) {
    const target = join(www, file.path === '/' ? 'index.html' : file.path.slice(1));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, file.body);
  }
  // nginx workers run as "nobody" when started by root: let them read the files
  await chmod(dir, 0o755);
  await chmod(www, 0o755);
  await chmod(join(www, 'assets'), 0o755);
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
worker_processes auto;
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
  open_file_cache_valid 60s;
  client_body_temp_path ${join(dir, 'nginx-client-body')};
  proxy_temp_path ${join(dir, 'nginx-proxy')};
  fastcgi_temp_path ${join(dir, 'nginx-fastcgi')};
  uwsgi_temp_path ${join(dir, 'nginx-uwsgi')};
  scgi_temp_path ${join(dir, 'nginx-scgi')};
  types { text/html html; text/javascript js; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
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
    await waitForHttp(port, child);
  } catch (error) {
    await stopChild(child);
    throw new Error(`nginx did not start: ${stderr.trim()}`, { cause: error });
  }
  return child;
}

async function startEdge(configFile: string, workers: number, policy: 'none' | 'rr', benchDir = fileURLToPath(new URL('.', import.meta.url))): Promise<{ child: ChildProcess; port: number }> {
  const primary = join(benchDir, 'static-primary.js');
  const child = spawn(process.execPath, [primary, '0', String(workers), policy], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, SLIPWAY_BENCH_EDGE_CONFIG: configFile },
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening (\d+)/.exec(out);
        if (match?.[1] !== undefined) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`edge cluster exited with code ${code} before listening`)));
      setTimeout(() => reject(new Error('edge cluster did not listen within 20 s')), 20_000).unref();
    });
    await waitForHttp(port, child);
    return { child, port };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** A short warm-up run (JIT, memory cache, connections), then the measured run. */
async function measure(target: Target, path: string, seconds: number): Promise<Measurement> {
  await wrk(target.port, path, Math.min(2, seconds));
  const before = await treeCpuMicros(target.pid);
  const result = await wrk(target.port, path, seconds);
  const used = (await treeCpuMicros(target.pid)) - before;
  return { ...result, cpuMicrosPerRequest: used / result.requests };
}

/** user + system CPU time of a process and all its descendants, from /proc (Linux), in µs. */
export async function treeCpuMicros(root: number): Promise<number> {
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux build this runs on
  const stats: { pid: number; ppid: number; ticks: number }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = await readFile(`/proc/${name}/stat`, 'utf8');
      // fields after "(comm)": state ppid ... utime(14th) stime(15th) counted from pid
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.push({ pid: Number(name), ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) });
    } catch {
      // the process ended while we looked
    }
  }
  const inTree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const stat of stats) {
      if (!inTree.has(stat.pid) && inTree.has(stat.ppid)) {
        inTree.add(stat.pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const stat of stats) if (inTree.has(stat.pid)) ticks += stat.ticks;
  return (ticks * 1_000_000) / ticksPerSecond;
}

function wrk(port: number, path: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', '-c50', `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`wrk exited with code ${code}`);
        resolve(parseWrk(out));
      } catch (error) {
        reject(new Error(`wrk against port ${port}${path} failed:\n${out}`, { cause: error }));
      }
    });
  });
}

/** requests/sec and the 99th percentile latency (ms) from `wrk --latency` output. */
export function parseWrk(out: string): WrkResult {
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error('some responses were not 2xx/3xx');
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const requests = /(\d+) requests in/.exec(out)?.[1];
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\b/m.exec(out);
  if (rps === undefined || requests === undefined || p99?.[1] === undefined) throw new Error('could not parse wrk output');
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return { requests: Number(requests), requestsPerSec: Number(rps), p99Ms: Math.round(Number(p99[1]) * (scale[p99[2] ?? 'ms'] ?? 1) * 100) / 100 };
}

/** Resolve once GET / answers 200 with our Host; reject if `child` exits first or after 10 s. */
async function waitForHttp(port: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode})`);
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing answered on port ${port} within 10 s`);
}

// run directly: print the table
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await run();
  console.log(result.title);
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}

/** wrk -t2 -c50 for `seconds` against the edge on 127.0.0.1:<port> with a Host header. */
export function wrkHost(port: number, path: string, host: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', '-c50', `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(new Error(`wrk failed:\n${out}`, { cause: err }));
      }
    });
  });
}
