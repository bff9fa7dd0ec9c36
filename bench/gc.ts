/**
 * Garbage collection of 100,000 blobs in the directory store: 200 deployments of 500 files
 * each, half of them previews past their retention. Each figure comes from a fresh child
 * process (so its peak RSS is the collection's own, not the setup's), next to a reference
 * child that only lists the same blobs: GC time and memory as ratios of that walk.
 * SLIPWAY_BENCH_GC_BLOBS changes the number of blobs (a multiple of 500).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalBlobStore, sha256 } from '../src/blobs/index.js';
import type { Manifest } from '../src/manifest/index.js';
import { createProject } from '../src/projects/index.js';
import { collectGarbage } from '../src/retention/index.js';
import { SecretBox } from '../src/secrets.js';
import { Store } from '../src/store/index.js';
import { insertDeployment } from '../test/retention/fixture.js';

const BLOBS = Number(process.env.SLIPWAY_BENCH_GC_BLOBS ?? 100_000);
const PER_DEPLOYMENT = 500;
const run$ = promisify(execFile);

interface ChildResult {
  ms: number;
  maxRssMb: number;
  blobs: number;
  deleted?: number;
  bytes?: number;
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-gc-'));
  try {
    const setupStarted = Date.now();
    await setup(dir);
    const setupMs = Date.now() - setupStarted;
    const list = await child('list', dir);
    const dry = await child('dry-run', dir);
    const gc = await child('gc', dir);
    const rows = [
      { run: 'list only (reference)', blobs: list.blobs, seconds: list.ms / 1000, 'x list time': 1, 'peak RSS MiB': list.maxRssMb, 'x list RSS': 1 },
      { run: 'gc --dry-run', blobs: dry.blobs, seconds: dry.ms / 1000, 'x list time': dry.ms / list.ms, 'peak RSS MiB': dry.maxRssMb, 'x list RSS': dry.maxRssMb / list.maxRssMb },
      { run: 'gc (deletes)', blobs: gc.blobs, seconds: gc.ms / 1000, 'x list time': gc.ms / list.ms, 'peak RSS MiB': gc.maxRssMb, 'x list RSS': gc.maxRssMb / list.maxRssMb },
    ];
    return {
      title: `Garbage collection of ${BLOBS.toLocaleString('en')} blobs, directory store`,
      rows,
      notes: [
        `${BLOBS / PER_DEPLOYMENT} deployments of ${PER_DEPLOYMENT} files each (SQLite), half of them previews past 90 days: the run removed ${gc.deleted} blobs (${((gc.bytes ?? 0) / 1024 ** 2).toFixed(1)} MiB)`,
        'each row is a fresh node process: peak RSS is process.resourceUsage().maxRSS, including Node itself',
        `setup (writing the blobs) took ${(setupMs / 1000).toFixed(1)}s and is not measured`,
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function setup(dir: string): Promise<void> {
  const store = await Store.openSqlite(join(dir, 'slipway.db'));
  const blobs = new LocalBlobStore(join(dir, 'blobs'));
  for (let i = 0; i < 256; i++) await mkdir(join(dir, 'blobs', i.toString(16).padStart(2, '0')), { recursive: true });
  try {
    const { project } = await store.tx((db) => createProject(db, new SecretBox(randomBytes(32)), { name: 'bench', repoUrl: 'file:///nowhere' }));
    for (let d = 0; d < BLOBS / PER_DEPLOYMENT; d++) {
      const manifest: Manifest = { version: 1, files: {} };
      const bodies = Array.from({ length: PER_DEPLOYMENT }, (_, i) => Buffer.from(`deployment ${d} file ${i} ${randomBytes(24).toString('hex')}\n`));
      for (let i = 0; i < bodies.length; i += 50) {
        await Promise.all(
          bodies.slice(i, i + 50).map(async (bytes, j) => {
            const hash = sha256(bytes);
            // written the way the store lays them out, without its existence check: setup is not what is measured
            await writeFile(blobs.pathOf(hash), bytes, { mode: 0o444 });
            manifest.files[`assets/file-${i + j}.js`] = { hash, size: bytes.length, type: 'text/javascript; charset=utf-8' };
          }),
        );
      }
      const json = Buffer.from(JSON.stringify(manifest));
      await blobs.put(sha256(json), json);
      // even: production within its retention; odd: previews 100 days old
      const old = d % 2 === 1;
      await insertDeployment(store.db, project, { status: 'ready', environment: old ? 'preview' : 'production', ageDays: old ? 100 : 1, manifestHash: sha256(json) });
    }
    // keepProduction covers every production deployment here: only the old previews go
    await store.db.insertInto('project_retention').values({ project_id: project.id, keep_production: BLOBS, keep_days: null, updated_at: Date.now() }).execute();
  } finally {
    await store.close();
  }
}

async function child(mode: 'list' | 'dry-run' | 'gc', dir: string): Promise<ChildResult> {
  const { stdout } = await run$(process.execPath, [fileURLToPath(import.meta.url), '--gc-bench-child', mode, dir], { maxBuffer: 1024 * 1024, timeout: 30 * 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChildResult;
}

async function childMain(mode: string, dir: string): Promise<void> {
  const store = await Store.openSqlite(join(dir, 'slipway.db'), { migrate: false });
  const blobs = new LocalBlobStore(join(dir, 'blobs'));
  const started = performance.now();
  let result: Omit<ChildResult, 'ms' | 'maxRssMb'>;
  if (mode === 'list') {
    let count = 0;
    for await (const _ of blobs.list()) count++;
    result = { blobs: count };
  } else {
    const report = await collectGarbage({ store, blobs, dataDir: dir }, { dryRun: mode === 'dry-run', graceMs: 0 });
    result = { blobs: report.kept.blobs + report.blobs.count, deleted: report.blobs.count, bytes: report.blobs.bytes };
  }
  const elapsed = performance.now() - started;
  await store.close();
  console.log(JSON.stringify({ ...result, ms: elapsed, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

if (process.argv[2] === '--gc-bench-child') await childMain(process.argv[3] ?? '', process.argv[4] ?? '');
