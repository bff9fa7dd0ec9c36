/**
 * Sandbox overhead (issue 7): what the sandbox (minimal root, unprivileged uid, own network
 * namespace behind a veth pair, cgroups, the build folder's size-capped file system) costs, against
 * the same work with no sandbox at all, measured in the same run:
 * 1. the static fixture's install + build (runBuild sandboxed vs `sandbox: false`),
 * 2. the Next.js fixture's build, likewise,
 * 3. an SSR server's cold start through the edge (a Runtime with `sandbox` vs without),
 * 4. edge -> server proxy req/s (the server behind the veth vs on loopback), see ./sandbox-servers.ts.
 * Rounds alternate A B B A ..., so a linear drift of this shared machine hits both sides alike.
 *
 * SLIPWAY_BENCH_RUNS: static builds and cold starts per side (default 3 and 5);
 * SLIPWAY_BENCH_NEXT_RUNS: Next.js builds per side (default 1, ~60 s each; 0 skips them and needs
 * SLIPWAY_BENCH_NEXT_DIR, a copy of test/fixtures/next-app built with standalone output, for 3 and 4);
 * SLIPWAY_BENCH_ROUNDS (default 3) and SLIPWAY_BENCH_SECONDS (default 5): the wrk runs.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownTree } from '../src/sandbox/index.js';
import { runBuild, type BuildRequest, type BuildResult } from '../src/build/index.js';
import { createWorkspace, probeIsolation } from '../src/sandbox/index.js';
import { SANDBOX_GID, SANDBOX_UID } from '../src/sandbox/root.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { measureFixedCosts } from './sandbox-costs.js';
import { measureServers, sidesOfRound, type NextApp, type Row, type Side } from './sandbox-servers.js';
import { median } from './stats.js';

const STATIC_RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 3);
const NEXT_RUNS = Number(process.env.SLIPWAY_BENCH_NEXT_RUNS ?? 1);
/** the worker's default build folder cap (--build-disk-mb) */
const BUILD_DISK_BYTES = 20_480 * 1024 * 1024;

export async function run(): Promise<{ title: string; rows: Row[]; notes: string[] }> {
  const iso = await probeIsolation();
  if (!iso.bwrap.ok) throw new Error(`the sandbox does not work on this machine (bwrap: ${iso.bwrap.why})`);
  if (NEXT_RUNS < 1 && process.env.SLIPWAY_BENCH_NEXT_DIR === undefined) throw new Error('SLIPWAY_BENCH_NEXT_RUNS=0 needs SLIPWAY_BENCH_NEXT_DIR (a built copy of test/fixtures/next-app)');
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-sandbox-'));
  const builds = new Builds(dir, iso.loop);
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    await builds.primeCaches(NEXT_RUNS > 0 ? ['vite-site', 'next-app'] : ['vite-site']);
    rows.push(...(await compareBuilds(builds, 'vite-site', STATIC_RUNS)).rows);
    // what a short build's ratio is mostly made of
    rows.push(...(await measureFixedCosts(dir, iso.loop)));
    let next: NextApp;
    if (NEXT_RUNS > 0) {
      const result = await compareBuilds(builds, 'next-app', NEXT_RUNS);
      rows.push(...result.rows);
      const built = result.unsandboxed;
      if (built?.server === undefined) throw new Error('the unsandboxed Next.js build made no server');
      next = { kind: 'build', build: built };
    } else next = { kind: 'dir', dir: process.env.SLIPWAY_BENCH_NEXT_DIR! };
    const servers = await measureServers(join(dir, 'servers'), next);
    rows.push(...servers.rows);
    notes.push(...servers.notes);
  } finally {
    await builds.release();
    await rm(dir, { recursive: true, force: true });
  }
  if (iso.root) {
    notes.push(
      'sandboxed: uid 64100, own network namespace over a veth pair behind the firewall, cgroup memory/pids/cpu limits' +
        (iso.loop ? ', the build folder on its own size-capped ext4 (loop) file system, made in the timed span as the worker does' : ''),
      // cgroup v1: every task of the root group weighs 1024, the slipway group as a whole 1024 too
      'CPU: sandboxed builds sit in the cpu cgroup slipway/ (every build on the machine together weighs one ordinary process against the unsandboxed side), so when the cores are busy the sandboxed build gets less CPU; servers have no cpu group',
    );
  } else notes.push('not root here: the sandbox shares the host network and has no cgroups or uid switch, so these figures understate it');
  notes.push(
    'reference: no sandbox at all (runBuild sandbox: false, a Runtime without sandbox, servers on 127.0.0.1), stricter than the old bwrap sandbox the issue compares with, which had its own (smaller) cost',
    'builds: a fresh copy of the fixture each, no project cache (both really install); npm download caches warm and identical on both sides (one install fills one, copied to the other), so the network does not weigh in',
    `rounds alternate A B, B A, ...; cells are medians; "rounds" lists none/sandboxed per round; whole bench ${Math.round((performance.now() - started) / 1000)} s`,
  );
  return { title: 'Sandbox overhead: sandboxed vs no sandbox (ratios; builds and cold start target <= 1.1, proxy req/s >= 0.9)', rows, notes };
}

interface Timed {
  totalMs: number;
  result: BuildResult;
}

/** Builds of fixtures from fresh copies, each in a build folder as the worker makes it; the folders live until release. */
class Builds {
  private readonly workspaces: { release: () => Promise<void> }[] = [];
  private n = 0;

  constructor(
    private readonly dir: string,
    private readonly loop: boolean,
  ) {}

  private cacheDir(side: Side): string {
    return join(this.dir, `pm-cache-${side}`);
  }

  /**
   * Fill npm's download cache once (an install without a build, unsandboxed) and give both
   * sides the same copy of it; the sandbox user owns its copy, as it would its project's cache.
   */
  async primeCaches(fixtures: string[]): Promise<void> {
    for (const fixture of fixtures) await this.once(fixture, 'none', { buildCommand: 'true', outputDirectory: 'node_modules' });
    await cp(this.cacheDir('none'), this.cacheDir('sandbox'), { recursive: true, preserveTimestamps: true });
    await chownTree([this.cacheDir('sandbox')], { uid: SANDBOX_UID, gid: SANDBOX_GID });
  }

  async once(fixture: string, side: Side, settings: BuildRequest['settings'] = {}): Promise<Timed> {
    const folder = join(this.dir, `${fixture}-${side}-${++this.n}`);
    // the build folder is part of the sandbox (its disk cap): made in the timed span on that side
    const t0 = performance.now();
    const workspace = await createWorkspace(folder, side === 'sandbox' ? BUILD_DISK_BYTES : 0, side === 'sandbox' && this.loop);
    const folderMs = performance.now() - t0;
    this.workspaces.push(workspace);
    const sourceDir = join(folder, 'src');
    await cp(join(fixturesDir, fixture), sourceDir, { recursive: true });
    const lines: string[] = [];
    const t1 = performance.now();
    const result = await runBuild({
      sourceDir,
      settings,
      env: {},
      timeoutMs: 15 * 60_000,
      log: (line) => lines.push(line),
      cacheDir: this.cacheDir(side),
      hiddenPaths: [join(this.dir, 'data')],
      scratchDir: folder,
      sandbox: side === 'sandbox',
    }).catch((err: unknown) => {
      throw new Error(`${fixture} build (${side === 'sandbox' ? 'sandboxed' : 'no sandbox'}) failed:\n${lines.slice(-20).join('\n')}`, { cause: err });
    });
    return { totalMs: folderMs + performance.now() - t1, result };
  }

  async release(): Promise<void> {
    for (const w of this.workspaces.splice(0)) await w.release().catch((err: unknown) => console.error('could not release a build folder', err));
  }
}

/** `unsandboxed`: the last build without the sandbox, its folder still there (what the server figures run) */
async function compareBuilds(builds: Builds, fixture: string, runs: number): Promise<{ rows: Row[]; unsandboxed: BuildResult | undefined }> {
  const times: Record<Side, Timed[]> = { none: [], sandbox: [] };
  for (let i = 0; i < runs; i++) {
    for (const side of sidesOfRound(i)) times[side].push(await builds.once(fixture, side));
  }
  const med = (side: Side, f: (t: Timed) => number) => median(times[side].map(f));
  const row = (measure: string, f: (t: Timed) => number, target?: string): Row => {
    const none = med('none', f);
    const sandbox = med('sandbox', f);
    return {
      measure,
      'no sandbox': Math.round(none),
      sandboxed: Math.round(sandbox),
      ratio: Math.round((sandbox / none) * 100) / 100,
      ...(target === undefined ? {} : { target }),
      rounds: times.none.map((t, i) => `${Math.round(f(t))}/${Math.round(f(times.sandbox[i]!))}`).join(', '),
    };
  };
  const rows = [
    row(`${fixture}: install + build, ms (median of ${runs})`, (t) => t.totalMs, '<= 1.1'),
    row(`${fixture}: install, ms`, (t) => t.result.installMs),
    row(`${fixture}: build, ms`, (t) => t.result.buildMs),
  ];
  return { rows, unsandboxed: times.none.at(-1)?.result };
}
