/**
 * Static-file benchmark: the edge cluster against nginx serving the same two files
 * (a 2 KB HTML page and a 50 KB JS asset), measured with wrk over keep-alive connections.
 * Run it alone with `node dist/bench/static.js`; SLIPWAY_BENCH_SECONDS shortens the runs.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX, pageAndAsset, startEdgeCluster, startNginx, storeBenchSite, treeCpuMicros, waitForAnswer, wrk, type BenchFile, type WrkResult } from './load-tools.js';
import { freePort, stopChild } from './processes.js';
import { median } from './stats.js';

const HOST = 'bench.localhost';
const INSTALL_HINT = 'apt-get install -y nginx wrk';

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  requireTools();
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '10');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '1'));
  const workers = availableParallelism();
  const policies = (process.env.SLIPWAY_BENCH_EDGE_POLICIES ?? 'none,rr').split(',').filter((p): p is 'none' | 'rr' => p === 'none' || p === 'rr');
  const files = pageAndAsset();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-static-'));
  const children: ChildProcess[] = [];
  try {
    const configFile = await storeDeployment(dir, files);
    const nginxPort = await freePort();
    const nginx = await startNginx({ dir, host: HOST, port: nginxPort, workers: 'auto', files });
    children.push(nginx);
    const targets: Target[] = [{ name: 'nginx', port: nginxPort, pid: nginx.pid ?? 0 }];
    for (const policy of policies) {
      const edge = await startEdge(configFile, workers, policy);
      children.push(edge.child);
      targets.push({ name: `edge (${policy === 'rr' ? 'SCHED_RR' : 'SCHED_NONE'})`, port: edge.port, pid: edge.child.pid ?? 0 });
    }
    // SLIPWAY_BENCH_EDGE_EXTRA_WORKERS=1,3: the edge with other process counts too (the default is one per core)
    for (const count of (process.env.SLIPWAY_BENCH_EDGE_EXTRA_WORKERS ?? '').split(',').filter((n) => /^[1-9]\d*$/.test(n))) {
      const edge = await startEdge(configFile, Number(count), 'none');
      children.push(edge.child);
      targets.push({ name: `edge (SCHED_NONE, ${count} processes)`, port: edge.port, pid: edge.child.pid ?? 0 });
    }
    // SLIPWAY_BENCH_BASELINE=<another build's dist/bench>: that build's edge too, in the same rounds
    const baselineDir = process.env.SLIPWAY_BENCH_BASELINE;
    if (baselineDir !== undefined && baselineDir !== '') {
      const baseline = await startEdge(configFile, workers, 'none', baselineDir);
      children.push(baseline.child);
      targets.push({ name: 'baseline (SCHED_NONE)', port: baseline.port, pid: baseline.child.pid ?? 0 });
    }
    // SLIPWAY_BENCH_STATIC_FLOORS=1: node:http and bare sockets with none of the edge's work (./static-floor.ts)
    if (process.env.SLIPWAY_BENCH_STATIC_FLOORS === '1') {
      for (const mode of ['http', 'net'] as const) {
        const floor = await startFloor(mode, workers);
        children.push(floor.child);
        targets.push({ name: `floor: ${mode === 'http' ? 'node:http' : 'bare socket'}`, port: floor.port, pid: floor.child.pid ?? 0 });
      }
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
          'wrk us/req': Math.round(median(runs.map((r) => r.wrkMicrosPerRequest))),
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
        'wrk us/req: the CPU time wrk itself spent per request, on the same cores: with both saturated, req/s is about cores / (server + wrk) us, so a server at c us/req reaches (n + w) / (c + w) of a server at n.',
        'targets: edge >= 60 % of nginx for the page, >= 80 % for the asset.',
        'nginx: worker_processes auto, sendfile, tcp_nopush, open_file_cache, access_log off; keepalive_requests raised to 100000 (the edge never closes a busy keep-alive connection either).',
        "edge: these requests never reach node:http: the HTTP/1.1 fast path (src/edge/http1-fast.ts) reads each connection's bytes itself and answers a plain GET/HEAD of a file in memory with the pre-serialised response, one write() per answer that the kernel takes whole; any other request hands the connection to node:http. SLIPWAY_BENCH_BASELINE=<a build before it> shows the difference in the same rounds.",
        "where the edge's time goes (measured with the floors, SLIPWAY_BENCH_STATIC_FLOORS=1, and perf): node:http's parser, request and response objects cost about 5-8 us per request (floor: node:http vs floor: bare socket), which the fast path skips; its own head check, routing and file lookup are well under 1 us, so the edge is within 1-3 us of the bare socket floor; the rest is the read() and write() per request. Copying the 50 KB body into the socket costs about 3 us, which nginx avoids with sendfile: even the bare socket floor stays under 80 % of nginx on the asset.",
        'SLIPWAY_BENCH_EDGE_EXTRA_WORKERS=1,3 adds the edge with other process counts: more processes than cores changed CPU us/req by no more than the noise; on a shared machine they win req/s only by taking a larger share of the CPU from the neighbours.',
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
  wrkMicrosPerRequest: number;
}

function requireTools(): void {
  if (!existsSync(NGINX)) throw new Error(`nginx is not installed (${NGINX} is missing): ${INSTALL_HINT}`);
  if (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error !== undefined) throw new Error(`wrk is not installed: ${INSTALL_HINT}`);
}

/** The bench site's blobs and manifest, and the worker config naming them; returns the config path. */
async function storeDeployment(dir: string, files: BenchFile[]): Promise<string> {
  const { blobRoot, manifestHash } = await storeBenchSite(dir, files);
  const configFile = join(dir, 'edge-config.json');
  await writeFile(configFile, JSON.stringify({ blobRoot, hosts: { [HOST]: { deploymentId: 'dpl_bench', manifestHash } } }));
  return configFile;
}

async function startEdge(configFile: string, workers: number, policy: 'none' | 'rr', benchDir = fileURLToPath(new URL('.', import.meta.url))): Promise<{ child: ChildProcess; port: number }> {
  const edge = await startEdgeCluster(join(benchDir, 'static-primary.js'), ['0', String(workers), policy], { SLIPWAY_BENCH_EDGE_CONFIG: configFile });
  try {
    await waitForAnswer(edge.port, HOST, edge.child);
    return edge;
  } catch (error) {
    await stopChild(edge.child);
    throw error;
  }
}

/** A short warm-up run (JIT, memory cache, connections), then the measured run. */
async function measure(target: Target, path: string, seconds: number): Promise<Measurement> {
  await wrk({ port: target.port, host: HOST, path, seconds: Math.min(2, seconds) });
  const before = await treeCpuMicros(target.pid);
  const wrkBefore = await reapedChildrenCpuMicros();
  const result = await wrk({ port: target.port, host: HOST, path, seconds });
  const used = (await treeCpuMicros(target.pid)) - before;
  const wrkUsed = (await reapedChildrenCpuMicros()) - wrkBefore;
  return { ...result, cpuMicrosPerRequest: used / result.requests, wrkMicrosPerRequest: wrkUsed / result.requests };
}

/** CPU time (µs) of this process's children that have exited and been waited for: here, the wrk runs. */
async function reapedChildrenCpuMicros(): Promise<number> {
  const text = await readFile('/proc/self/stat', 'utf8');
  // after "(comm)": state is field 3, so cutime (16) and cstime (17) are the 14th and 15th
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[13]) + Number(rest[14])) * 1_000_000) / 100; // USER_HZ = 100
}

/** A floor server (./static-floor.ts) with `workers` processes, answering the bench files. */
async function startFloor(mode: 'http' | 'net', workers: number): Promise<{ child: ChildProcess; port: number }> {
  const floor = await startEdgeCluster(fileURLToPath(new URL('./static-floor.js', import.meta.url)), [mode, String(workers)], {});
  try {
    await waitForAnswer(floor.port, HOST, floor.child);
    return floor;
  } catch (error) {
    await stopChild(floor.child);
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
