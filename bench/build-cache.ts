/**
 * Build cache: install + build of a real fixture with an empty project cache (cold) and with a
 * cache hit (warm), next to today's uncached build, all in the same run. npm's download cache is
 * warm for every row (one untimed build fills it first), so cold is not slowed by the network
 * and the figure shows what the project cache itself saves: the unpacking into node_modules.
 * SLIPWAY_BENCH_CACHE_NEXT=1 adds the Next.js fixture (test/fixtures/next-app), about ten minutes
 * on a two-core machine.
 */
import { access, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, type BuildCacheOptions, type BuildResult } from '../src/build/index.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { median, ms } from './stats.js';

const RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 3);

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-cache-'));
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  try {
    const fixtures = ['vite-site'];
    if (process.env.SLIPWAY_BENCH_CACHE_NEXT === '1') {
      if (
        !(await access(join(fixturesDir, 'next-app')).then(
          () => true,
          () => false,
        ))
      )
        throw new Error('SLIPWAY_BENCH_CACHE_NEXT=1 needs test/fixtures/next-app');
      fixtures.push('next-app');
    }
    for (const fixture of fixtures) {
      const result = await measure(dir, fixture);
      rows.push(...result.rows);
      notes.push(result.note);
    }
    notes.push(`median of ${RUNS} runs each; every build runs through runBuild (sandboxed when bwrap works) from a fresh copy of the fixture`);
    return { title: `Build cache: cold vs warm install + build (median of ${RUNS})`, rows, notes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string, fixture: string): Promise<{ rows: Record<string, string | number>[]; note: string }> {
  const pmCache = join(dir, 'pm-cache');
  let n = 0;
  const once = async (cache: BuildCacheOptions | undefined): Promise<{ totalMs: number; result: BuildResult; spans: Record<string, number> }> => {
    const sourceDir = join(dir, `${fixture}-${++n}`);
    await cp(join(fixturesDir, fixture), sourceDir, { recursive: true });
    const started = performance.now();
    const lines: string[] = [];
    const result = await runBuild({ sourceDir, settings: {}, env: {}, timeoutMs: 10 * 60_000, log: (l) => lines.push(l), cacheDir: pmCache, hiddenPaths: [], cache }).catch((err: unknown) => {
      throw new Error(`${fixture} build failed:\n${lines.slice(-20).join('\n')}`, { cause: err });
    });
    const totalMs = performance.now() - started;
    const spans = await nextSpans(sourceDir);
    await rm(sourceDir, { recursive: true, force: true });
    return { totalMs, result, spans };
  };

  await once(undefined); // fills npm's download cache: every row below starts from a warm one
  const none: number[] = [];
  const cold: { totalMs: number; result: BuildResult; spans: Record<string, number> }[] = [];
  const warm: { totalMs: number; result: BuildResult; spans: Record<string, number> }[] = [];
  let primed: BuildCacheOptions | undefined;
  for (let i = 0; i < RUNS; i++) {
    none.push((await once(undefined)).totalMs);
    primed = { dir: join(dir, `project-${fixture}-${i}`) };
    const c = await once(primed);
    if (c.result.cache.dependencies !== 'miss') throw new Error(`cold build of ${fixture} was a ${c.result.cache.dependencies}`);
    cold.push(c);
  }
  for (let i = 0; i < RUNS; i++) {
    const w = await once(primed);
    if (w.result.cache.dependencies !== 'hit') throw new Error(`warm build of ${fixture} was a ${w.result.cache.dependencies}`);
    warm.push(w);
  }
  const coldMs = median(cold.map((c) => c.totalMs));
  const warmMs = median(warm.map((w) => w.totalMs));
  const pick = (list: { result: BuildResult }[], f: (r: BuildResult) => number | undefined) => ms(median(list.map((x) => f(x.result) ?? 0)));
  const spanNote = (label: string, list: { spans: Record<string, number> }[]) => {
    const names = Object.keys(list[0]?.spans ?? {});
    return names.length === 0 ? '' : `; next build's own phases, ${label}: ${names.map((n) => `${n} ${ms(median(list.map((x) => x.spans[n] ?? 0)))} ms`).join(', ')}`;
  };
  return {
    rows: [
      { fixture, measure: 'no cache (before this change)', ms: ms(median(none)) },
      {
        fixture,
        measure: 'cold: empty project cache (install + build + save)',
        ms: ms(coldMs),
        install: pick(cold, (r) => r.installMs),
        build: pick(cold, (r) => r.buildMs),
        save: pick(cold, (r) => r.cache.saveMs),
      },
      {
        fixture,
        measure: 'warm: cache hit (restore + build)',
        ms: ms(warmMs),
        install: pick(warm, (r) => r.installMs),
        build: pick(warm, (r) => r.buildMs),
        restore: pick(warm, (r) => r.cache.restoreMs),
      },
      { fixture, measure: 'ratio warm / cold', ms: Math.round((warmMs / coldMs) * 100) / 100 },
    ],
    note: `${fixture}: warm/cold ${(warmMs / coldMs).toFixed(2)} (target <= 0.40); restore ${pick(warm, (r) => r.cache.restoreMs)} ms replaces an install of ${pick(cold, (r) => r.installMs)} ms; framework cache on warm runs: ${warm.map((w) => w.result.cache.frameworkCache).join(', ')}${spanNote('cold', cold)}${spanNote('warm', warm)}`,
  };
}

/**
 * Next.js writes its build's spans to .next/trace (JSON arrays, one per line, durations in µs):
 * the webpack compiles and the output file trace tell where a warm build's time goes.
 */
async function nextSpans(sourceDir: string): Promise<Record<string, number>> {
  const text = await readFile(join(sourceDir, '.next', 'trace'), 'utf8').catch(() => '');
  const wanted: Record<string, string> = {
    'next-build': 'next build',
    'run-webpack-compiler': 'webpack compiles (summed)',
    'node-file-trace-build': 'output file trace',
    'static-generation': 'static generation',
  };
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    for (const span of JSON.parse(line) as { name: string; duration: number }[]) {
      const label = wanted[span.name];
      if (label !== undefined) out[label] = (out[label] ?? 0) + span.duration / 1000;
    }
  }
  return out;
}
