/**
 * Access-log benchmark: the edge with the access log on (every request observed, batched into a
 * SQLite store, metrics counted), with metrics only (observed and counted, no rows kept) and off
 * (no observer), and a second "off" edge as the noise floor: same files, four edge servers in one
 * process (so they differ in nothing else), measured back to back with wrk over keep-alive
 * connections. Target: throughput on/off >= 0.95. On a shared machine throughput
 * swings with the neighbours' load, so the edge process's CPU time per request (which is what
 * the access log adds to) is given beside it, and the CPU time of its main thread alone (the
 * event loop, which bounds an edge process's throughput; the SQLite log thread runs beside it).
 * Each ratio is the median of the rounds' paired ratios, with an approximate 95 % confidence
 * interval of that median: two identical edges measured a second apart differ by ±20 % here, so
 * many short rounds (default 30 of 2 s per mode) decide a 5 % target where a few long ones cannot.
 * SLIPWAY_BENCH_SECONDS sets a run's length, SLIPWAY_BENCH_ROUNDS their number,
 * SLIPWAY_BENCH_ROWS the rows stored per batch (default 2000).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageAndAsset, storeBenchSite, treeCpuMicros, waitForAnswer, wrk } from './load-tools.js';
import { stopChild } from './processes.js';
import { median, medianInterval } from './stats.js';

const HOST = 'bench.localhost';
const MODES = ['off', 'on', 'count', 'same'] as const;
type Mode = (typeof MODES)[number];

/** user + system CPU time of a process's main thread (its event loop), from /proc (Linux), in µs. */
async function mainThreadCpuMicros(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1_000_000) / 100;
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is not installed: apt-get install -y wrk');
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '2');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '30'));
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-access-log-'));
  const children: ChildProcess[] = [];
  try {
    const files = pageAndAsset();
    const { manifestHash } = await storeBenchSite(dir, files);
    const script = fileURLToPath(new URL('./access-log-edge.js', import.meta.url));
    const child = spawn(process.execPath, [script, dir, manifestHash], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const ports = await new Promise<Record<Mode, number>>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening off=(\d+) on=(\d+) count=(\d+) same=(\d+)/.exec(out);
        if (m !== null) resolve({ off: Number(m[1]), on: Number(m[2]), count: Number(m[3]), same: Number(m[4]) });
      });
      child.once('exit', (code) => reject(new Error(`the bench edges exited with code ${code} before listening`)));
      setTimeout(() => reject(new Error('the bench edges did not listen within 20 s')), 20_000).unref();
    });
    const edges = {} as Record<Mode, { port: number; pid: number }>;
    for (const mode of MODES) {
      await waitForAnswer(ports[mode], HOST, child);
      edges[mode] = { port: ports[mode], pid: child.pid ?? 0 };
    }
    const rows: Record<string, string | number>[] = [];
    for (const file of files) {
      const rps = { off: [], on: [], count: [], same: [] } as Record<Mode, number[]>;
      const cpu = { off: [], on: [], count: [], same: [] } as Record<Mode, number[]>;
      const loop = { off: [], on: [], count: [], same: [] } as Record<Mode, number[]>;
      // warmed once per file (the JIT settles), then measured back to back
      for (const mode of MODES) await wrk({ port: edges[mode].port, host: HOST, path: file.path, seconds: 2 });
      for (let round = 0; round < rounds; round++) {
        // rotate which goes first, so a neighbour's load hits each alike
        for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length]!)) {
          const { port, pid } = edges[mode];
          const before = await treeCpuMicros(pid);
          const loopBefore = await mainThreadCpuMicros(pid);
          const result = await wrk({ port, host: HOST, path: file.path, seconds });
          loop[mode].push(((await mainThreadCpuMicros(pid)) - loopBefore) / result.requests);
          cpu[mode].push(((await treeCpuMicros(pid)) - before) / result.requests);
          rps[mode].push(result.requestsPerSec);
        }
      }
      const ratio = (a: number[], b: number[]) => {
        const each = a.map((x, i) => x / b[i]!);
        const pct = (x: number) => Math.round(x * 100);
        const [lo, hi] = medianInterval(each);
        return `${pct(median(each))} % (CI ${pct(lo)}..${pct(hi)})`;
      };
      rows.push({
        file: file.label,
        'off req/s': Math.round(median(rps.off)),
        'on req/s': Math.round(median(rps.on)),
        'on/off req/s': ratio(rps.on, rps.off),
        'off CPU us/req': median(cpu.off),
        'on CPU us/req': median(cpu.on),
        'off/on CPU': ratio(cpu.off, cpu.on),
        'off loop CPU us/req': median(loop.off),
        'on loop CPU us/req': median(loop.on),
        'off/on loop CPU': ratio(loop.off, loop.on),
        // the SQLite log thread, GC helpers and libuv's pool: what "on" adds beside the event loop
        'on other threads CPU us/req': median(cpu.on.map((c, i) => c - loop.on[i]!)),
        'off other threads CPU us/req': median(cpu.off.map((c, i) => c - loop.off[i]!)),
        'metrics only/off req/s': ratio(rps.count, rps.off),
        'metrics only CPU us/req': median(cpu.count),
        'noise: same/off req/s': ratio(rps.same, rps.off),
        'noise: off/same loop CPU': ratio(loop.off, loop.same),
      });
    }
    return {
      title: `Edge with the access log on vs off (wrk -t2 -c50 -d${seconds}s, keep-alive, the four edges in one process, median of ${rounds} round(s))`,
      rows,
      notes: [
        'Target: on/off >= 95 %. "on" stores requests (batched once a second into SQLite, at most 2000 rows a batch) and counts metrics; "metrics only" counts without storing; "off" has no observer.',
        '"off/on CPU" is the edge CPU time per request off divided by on: the same target read from CPU time, steadier than req/s on a shared machine. "loop CPU" counts the main thread only (the event loop that serves requests), without the SQLite log thread.',
        "Ratios: median of the rounds' paired ratios, then (CI lo..hi): an approximate 95 % confidence interval of that median (order statistics).",
        '"noise": a fourth edge without an observer, measured like the others: how far two identical edges differ in this run. An on/off ratio is only as exact as that.',
      ],
    };
  } finally {
    for (const child of children) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
