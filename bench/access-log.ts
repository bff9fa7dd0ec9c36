/**
 * Access-log benchmark: the edge with the access log on (every request observed, batched into a
 * SQLite store, metrics counted), with metrics only ("count": observed and counted, no rows
 * kept) and off (no observer), and "twin", a second edge without an observer: the noise floor.
 * Target: throughput on/off >= 0.95.
 *
 * The four edges run in four processes and are loaded at the same time, one wrk each, so that
 * what the shared machine's neighbours do to the CPU hits all four alike. Measured one after the
 * other, two identical edges here differ by ±20 % from one second to the next, which no number
 * of rounds makes small enough to decide 5 %. Loaded together, the edges share the CPU fairly
 * (the scheduler gives each busy event loop its turn), so each one's requests per second
 * follows its own cost per request; the CPU time per request of each process and of its main
 * thread (the event loop, which bounds an edge process's throughput) are given beside it.
 * Each ratio is the median of the rounds' ratios, with an approximate 95 % confidence interval.
 * SLIPWAY_BENCH_SECONDS sets a round's length (default 3), SLIPWAY_BENCH_ROUNDS their number
 * (default 20), SLIPWAY_BENCH_ROWS the rows stored per batch (default: the writer's, 167 a second).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageAndAsset, startEdgeCluster, storeBenchSite, treeCpuMicros, waitForAnswer, wrk, type WrkResult } from './load-tools.js';
import { stopChild } from './processes.js';
import { median, medianInterval } from './stats.js';

const HOST = 'bench.localhost';
const MODES = ['off', 'on', 'count', 'twin'] as const;
type Mode = (typeof MODES)[number];

interface Edge {
  child: ChildProcess;
  port: number;
  pid: number;
}

/** user + system CPU time of a process's main thread (its event loop), from /proc (Linux), in µs. */
async function mainThreadCpuMicros(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1_000_000) / 100;
}

async function startEdge(dir: string, manifestHash: string, mode: Mode): Promise<Edge> {
  const { child, port } = await startEdgeCluster(fileURLToPath(new URL('./access-log-edge.js', import.meta.url)), [dir, manifestHash, mode], {});
  await waitForAnswer(port, HOST, child);
  return { child, port, pid: child.pid ?? 0 };
}

interface Sample {
  result: WrkResult;
  /** the process's CPU time per request (all its threads), µs */
  cpu: number;
  /** its main thread's CPU time per request, µs */
  loop: number;
}

/** One round: every edge under its own wrk (1 thread, 25 connections) for `seconds`, all at once. */
async function loadAll(edges: Record<Mode, Edge>, path: string, seconds: number): Promise<Record<Mode, Sample>> {
  const before = await Promise.all(MODES.map(async (m) => ({ tree: await treeCpuMicros(edges[m].pid), loop: await mainThreadCpuMicros(edges[m].pid) })));
  const results = await Promise.all(MODES.map((m) => wrk({ port: edges[m].port, host: HOST, path, seconds, threads: 1, connections: 25 })));
  const samples = {} as Record<Mode, Sample>;
  for (const [i, m] of MODES.entries()) {
    const result = results[i]!;
    const tree = (await treeCpuMicros(edges[m].pid)) - before[i]!.tree;
    const loop = (await mainThreadCpuMicros(edges[m].pid)) - before[i]!.loop;
    samples[m] = { result, cpu: tree / result.requests, loop: loop / result.requests };
  }
  return samples;
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is not installed: apt-get install -y wrk');
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '3');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '20'));
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-access-log-'));
  const edges = {} as Record<Mode, Edge>;
  try {
    const files = pageAndAsset();
    const { manifestHash } = await storeBenchSite(dir, files);
    for (const mode of MODES) edges[mode] = await startEdge(dir, manifestHash, mode);
    const rows: Record<string, string | number>[] = [];
    for (const file of files) {
      await loadAll(edges, file.path, 2); // the JIT settles
      const samples: Record<Mode, Sample>[] = [];
      for (let round = 0; round < rounds; round++) samples.push(await loadAll(edges, file.path, seconds));
      const of = (m: Mode, pick: (s: Sample) => number) => samples.map((s) => pick(s[m]));
      const rps = (m: Mode) => of(m, (s) => s.result.requestsPerSec);
      const ratio = (a: number[], b: number[]) => {
        const each = a.map((x, i) => x / b[i]!);
        const pct = (x: number) => Math.round(x * 100);
        const [lo, hi] = medianInterval(each);
        return `${pct(median(each))} % (CI ${pct(lo)}..${pct(hi)})`;
      };
      rows.push({
        file: file.label,
        'off req/s': Math.round(median(rps('off'))),
        'on req/s': Math.round(median(rps('on'))),
        'on/off req/s': ratio(rps('on'), rps('off')),
        'off/on CPU': ratio(
          of('off', (s) => s.cpu),
          of('on', (s) => s.cpu),
        ),
        'off/on loop CPU': ratio(
          of('off', (s) => s.loop),
          of('on', (s) => s.loop),
        ),
        'off loop CPU us/req': median(of('off', (s) => s.loop)),
        'on loop CPU us/req': median(of('on', (s) => s.loop)),
        // the SQLite log thread, GC helpers and libuv's pool: what "on" adds beside the event loop
        'on other threads CPU us/req': median(of('on', (s) => s.cpu - s.loop)),
        'off other threads CPU us/req': median(of('off', (s) => s.cpu - s.loop)),
        'metrics only/off req/s': ratio(rps('count'), rps('off')),
        'noise: twin/off req/s': ratio(rps('twin'), rps('off')),
        'noise: off/twin loop CPU': ratio(
          of('off', (s) => s.loop),
          of('twin', (s) => s.loop),
        ),
      });
    }
    return {
      title: `Edge with the access log on vs off (four edge processes loaded at once, wrk -t1 -c25 -d${seconds}s each, keep-alive, median of ${rounds} round(s))`,
      rows,
      notes: [
        `Target: on/off >= 95 %. "on" stores requests (batched once a second into SQLite, at most ${process.env.SLIPWAY_BENCH_ROWS ?? "167 (the writer's default)"} rows a batch) and counts metrics; "metrics only" counts without storing; "off" has no observer.`,
        "The edges are loaded at the same time, so the machine's neighbours slow them alike; sharing the CPU, each serves in proportion to its own cost per request.",
        '"off/on CPU" is the process CPU time per request off divided by on (all threads, the SQLite log thread included); "loop CPU" counts the main thread only (the event loop that serves requests).',
        "Ratios: median of the rounds' ratios, then (CI lo..hi): an approximate 95 % confidence interval of that median (order statistics).",
        '"noise": "twin" is a second edge without an observer, measured like the others: how far two identical edges differ in this run. An on/off ratio is only as exact as that.',
      ],
    };
  } finally {
    for (const edge of Object.values(edges)) await stopChild(edge.child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
