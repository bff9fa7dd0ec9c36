import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, cp, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { S3BlobStore } from '../../src/blobs/s3.js';
import { openProjectCache, restoreDependencies, restoreFrameworkCache, saveDependencies, saveFrameworkCache, type ProjectCache } from '../../src/build/cache.js';
import { unpackTree } from '../../src/build/cache-archive.js';
import { createSharedBuildCache } from '../../src/build/cache-share.js';
import { runBuild } from '../../src/build/index.js';
import type { Store } from '../../src/store/index.js';
import { type Backend, forEachBackend, postgresBackend, sqliteBackend } from '../helpers/backends.js';
import { postgresSkip } from '../helpers/postgres.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';

const run = promisify(execFile);
const KEY = 'a'.repeat(64);

// Two workers: separate data dirs (so separate project caches), one database, one bucket (a
// real s3rver). What one saves, the other restores; nothing crosses from one project to another.
let s3: RunningS3;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;
const buckets: S3BlobStore[] = [];

before(async () => {
  useS3rverCredentials();
  s3 = await startS3rver();
  tmp = await tempDir('slipway-shared-cache-');
});
after(async () => {
  for (const b of buckets) await b.close();
  await s3?.cleanup();
  await tmp?.cleanup();
});

function bucket(prefix: string): S3BlobStore {
  // its download folder inside ours; closed at the end (sockets, that folder)
  const store = new S3BlobStore({ bucket: s3.bucket, prefix, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir: tmp.path });
  buckets.push(store);
  return store;
}

/** a checkout with an installed node_modules: plain files, an executable, a scoped package, a .bin link */
async function checkoutWithModules(): Promise<string> {
  const dir = join(tmp.path, `checkout-${++counter}`);
  await mkdir(join(dir, 'node_modules', 'left-pad', 'bin'), { recursive: true });
  await mkdir(join(dir, 'node_modules', '@scope', 'util'), { recursive: true });
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'left-pad', 'index.js'), 'module.exports = (s) => s;\n');
  await writeFile(join(dir, 'node_modules', 'left-pad', 'bin', 'pad.js'), '#!/usr/bin/env node\n');
  await chmod(join(dir, 'node_modules', 'left-pad', 'bin', 'pad.js'), 0o755);
  await writeFile(join(dir, 'node_modules', '@scope', 'util', 'package.json'), '{"name":"@scope/util"}\n');
  await symlink('../left-pad/bin/pad.js', join(dir, 'node_modules', '.bin', 'pad'));
  return dir;
}

async function emptyCheckout(): Promise<string> {
  const dir = join(tmp.path, `checkout-${++counter}`);
  await mkdir(dir);
  return dir;
}

forEachBackend('build caches shared through the blob store', (backend) => {
  let opened: Awaited<ReturnType<Backend['open']>>;
  let other: Store;
  let prefix: string;
  /** one worker's view of project `projectId`: its own data dir, the shared database and bucket */
  const worker = async (name: string, db: Store, projectId = 'p1') => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const dir = join(tmp.path, `${name}-${++counter}`, 'project-cache', projectId);
    const shared = createSharedBuildCache({ db: db.db, blobs: bucket(prefix), projectId, log });
    const cache: ProjectCache = await openProjectCache({ dir, shared }, tmp.path);
    return { cache, lines, log };
  };

  before(async () => {
    opened = await backend.open();
    other = await opened.another();
    prefix = `cache-${backend.name}-${process.pid}/`;
    for (const id of ['p1', 'p2']) {
      await opened.store.db.insertInto('projects').values({ id, name: id, repo_url: 'x', production_branch: 'main', webhook_secret: 'x', created_at: 1 }).execute();
    }
  });
  after(() => opened?.cleanup());

  it('a dependency tree one worker saved is restored by another worker with its own data dir, and kept there', async () => {
    const a = await worker('worker-a', opened.store);
    assert.equal(typeof (await saveDependencies(a.cache, KEY, await checkoutWithModules(), 'npm', a.log)), 'number');
    assert.ok(
      a.lines.some((l) => l.startsWith('Shared the node_modules cache with other workers')),
      a.lines.join('\n'),
    );
    const row = await opened.store.db.selectFrom('build_cache_entries').selectAll().where('project_id', '=', 'p1').executeTakeFirstOrThrow();
    assert.equal(row.kind, 'deps');
    assert.equal(row.key, KEY);
    assert.match(row.blob_hash, /^[0-9a-f]{64}$/);
    assert.ok(row.bytes > 0);

    // worker B: another machine (its own data dir, its own connection), the same key
    const b = await worker('worker-b', other);
    const target = await emptyCheckout();
    const restored = await restoreDependencies(b.cache, KEY, target, b.log);
    assert.ok(restored !== undefined, b.lines.join('\n'));
    assert.ok(
      b.lines.some((l) => /^Fetched the shared node_modules \(key a{12}…\) from the blob store/.test(l)),
      b.lines.join('\n'),
    );
    assert.equal(await readFile(join(target, 'node_modules', 'left-pad', 'index.js'), 'utf8'), 'module.exports = (s) => s;\n');
    assert.equal(await readFile(join(target, 'node_modules', '@scope', 'util', 'package.json'), 'utf8'), '{"name":"@scope/util"}\n');
    assert.equal(await readlink(join(target, 'node_modules', '.bin', 'pad')), '../left-pad/bin/pad.js');
    assert.notEqual((await lstat(join(target, 'node_modules', 'left-pad', 'bin', 'pad.js'))).mode & 0o111, 0, 'the executable stays executable');

    // its local copy: the next build on B restores without the bucket
    assert.deepEqual(await readdir(join(b.cache.dir, 'deps')), [KEY]);
    const offline = { ...b.cache, shared: undefined };
    const again = await emptyCheckout();
    assert.ok((await restoreDependencies(offline, KEY, again, b.log)) !== undefined);
    assert.equal(await readFile(join(again, 'node_modules', 'left-pad', 'index.js'), 'utf8'), 'module.exports = (s) => s;\n');
  });

  it('never crosses projects: the same key in another project is a miss', async () => {
    const c = await worker('worker-c', other, 'p2');
    assert.equal(await restoreDependencies(c.cache, KEY, await emptyCheckout(), c.log), undefined);
    assert.equal((await readdir(join(c.cache.dir, 'deps'))).length, 0);
  });

  it('the framework cache travels too; a recorded archive that is gone from the bucket is a plain miss', async () => {
    const a = await worker('worker-a', opened.store);
    const built = await emptyCheckout();
    await mkdir(join(built, '.next', 'cache', 'webpack'), { recursive: true });
    await writeFile(join(built, '.next', 'cache', 'webpack', 'chunk.pack'), 'packed');
    assert.equal(await saveFrameworkCache(a.cache, built, a.log), true);
    const b = await worker('worker-b', other);
    const next = await emptyCheckout();
    assert.equal(await restoreFrameworkCache(b.cache, next, b.log), true, b.lines.join('\n'));
    assert.equal(await readFile(join(next, '.next', 'cache', 'webpack', 'chunk.pack'), 'utf8'), 'packed');

    await opened.store.db
      .updateTable('build_cache_entries')
      .set({ blob_hash: 'f'.repeat(64) })
      .where('kind', '=', 'deps')
      .execute();
    const d = await worker('worker-d', other);
    assert.equal(await restoreDependencies(d.cache, KEY, await emptyCheckout(), d.log), undefined);
    assert.ok(
      d.lines.some((l) => /archive is missing from the blob store/.test(l)),
      d.lines.join('\n'),
    );
  });
});

it('unpacking refuses members outside the folder and never writes through a link the archive made', async () => {
  const outside = join(tmp.path, `outside-${++counter}`);
  await mkdir(outside);
  // a member named ../escaped
  const stage = join(tmp.path, `stage-${++counter}`);
  await mkdir(stage);
  await writeFile(join(stage, 'escaped'), 'x');
  const dotdot = join(tmp.path, 'dotdot.tar');
  await run('tar', ['--create', '--file', dotdot, '--directory', stage, '--transform', 's,^escaped,../escaped,', 'escaped']);
  await assert.rejects(unpackTree(dotdot, join(tmp.path, `into-${++counter}`)), /outside its folder/);

  // a link to a folder outside, then a file below the link
  const linkStage = join(tmp.path, `stage-${++counter}`);
  await mkdir(linkStage);
  await symlink(outside, join(linkStage, 'a'));
  const fileStage = join(tmp.path, `stage-${++counter}`);
  await mkdir(join(fileStage, 'a'), { recursive: true });
  await writeFile(join(fileStage, 'a', 'planted'), 'x');
  const through = join(tmp.path, 'through.tar');
  await run('tar', ['--create', '--file', through, '--directory', linkStage, 'a']);
  await run('tar', ['--append', '--file', through, '--directory', fileStage, 'a/planted']);
  await unpackTree(through, join(tmp.path, `into-${++counter}`)).catch(() => undefined);
  assert.deepEqual(await readdir(outside), [], 'nothing was written outside the target');
});

// The whole build, twice: worker A installs and shares; worker B (another data dir, the same
// database and bucket) builds the same commit and installs nothing. One real `npm ci`.
it('a second worker building the same dependency key restores the shared node_modules instead of installing', async () => {
  const backend = postgresSkip === false ? postgresBackend : sqliteBackend;
  const opened = await backend.open();
  try {
    await opened.store.db.insertInto('projects').values({ id: 'pb', name: 'pb', repo_url: 'x', production_branch: 'main', webhook_secret: 'x', created_at: 1 }).execute();
    const build = async (name: string, db: Store) => {
      const lines: string[] = [];
      const data = join(tmp.path, `${name}-${++counter}`);
      const sourceDir = join(data, 'src');
      await cp(join(fixturesDir, 'cache-npm'), sourceDir, { recursive: true });
      const shared = createSharedBuildCache({ db: db.db, blobs: bucket(`builds-${process.pid}/`), projectId: 'pb', log: (l) => lines.push(l) });
      const result = await runBuild({
        sourceDir,
        settings: {},
        env: {},
        timeoutMs: 180_000,
        log: (l) => lines.push(l),
        cacheDir: join(data, 'pm-cache'),
        hiddenPaths: [],
        // the sharing happens outside any sandbox (restore and save are the worker's own steps)
        sandbox: false,
        cache: { dir: join(data, 'project-cache', 'pb'), shared },
      });
      return { result, lines };
    };
    const a = await build('worker-a', opened.store);
    assert.equal(a.result.cache.dependencies, 'miss', a.lines.join('\n'));
    assert.ok(
      a.lines.some((l) => l.startsWith('Shared the node_modules cache with other workers')),
      a.lines.join('\n'),
    );
    const b = await build('worker-b', await opened.another());
    assert.equal(b.result.cache.dependencies, 'hit', b.lines.join('\n'));
    assert.equal(b.result.cache.key, a.result.cache.key);
    assert.ok(
      b.lines.some((l) => l.startsWith('Fetched the shared node_modules')),
      b.lines.join('\n'),
    );
    assert.ok(!b.lines.includes('Running "npm ci"'), 'worker B installed nothing');
    assert.match(await readFile(join(a.result.outputDir, 'index.html'), 'utf8'), /isNumber\(5\)=true; semver=1\.2\.3,2\.0\.0; builds=1</);
    // the fixture counts its builds in .next/cache: B's build saw A's framework cache
    assert.match(await readFile(join(b.result.outputDir, 'index.html'), 'utf8'), /isNumber\(5\)=true; semver=1\.2\.3,2\.0\.0; builds=2</);
    assert.equal(b.result.cache.frameworkCache, 'hit');
  } finally {
    await opened.cleanup();
  }
});
