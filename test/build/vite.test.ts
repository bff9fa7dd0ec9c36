import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packageOutput } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { runBuild } from '../../src/build/index.js';
import { fetchSource } from '../../src/source/index.js';
import { makeRepo } from '../helpers/git.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-vite-');
});
after(() => tmp.cleanup());

it('a Vite site goes from a git push to a packaged manifest (real npm ci from the registry)', { timeout: 5 * 60_000 }, async (t) => {
  const repo = await makeRepo(join(tmp.path, 'repo'));
  const sha = await repo.commitFixture(join(fixturesDir, 'vite-site'), 'Vite site');
  await repo.push();
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const timings: string[] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await fn();
    timings.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return result;
  };

  const sourceDir = join(tmp.path, 'src');
  const commit = await timed('fetch', () => fetchSource({ repoUrl: repo.url, sha, dir: sourceDir, log }));
  assert.equal(commit.sha, sha);

  const build = await timed('build', () => runBuild({ sourceDir, settings: {}, env: {}, timeoutMs: 4 * 60_000, log, cacheDir: join(tmp.path, 'cache'), hiddenPaths: [join(tmp.path, 'data')] }));
  assert.equal(build.packageManager, 'npm');
  assert.equal(build.outputDir, join(sourceDir, 'dist'));
  assert.ok(lines.includes('Running "npm ci"'), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('out of sync')), 'the committed lockfile installs as it is');
  assert.ok(
    lines.some((l) => l.includes('vite v7')),
    'vite output streamed',
  );

  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const pkg = await timed('package', () => packageOutput({ outputDir: build.outputDir, blobs, log }));
  const paths = Object.keys(pkg.manifest.files);
  assert.ok(paths.includes('index.html'), paths.join(', '));
  const js = paths.find((p) => /^assets\/index-[\w-]{8}\.js$/.test(p));
  assert.ok(js !== undefined, `a fingerprinted script in ${paths.join(', ')}`);
  assert.ok(
    paths.some((p) => /^assets\/index-[\w-]{8}\.css$/.test(p)),
    'a fingerprinted stylesheet',
  );
  assert.ok(
    paths.some((p) => /^assets\/logo-[\w-]{8}\.svg$/.test(p)),
    'a fingerprinted asset',
  );
  assert.equal(pkg.manifest.files[js]?.type, 'text/javascript; charset=utf-8');
  const html = (await blobs.get(pkg.manifest.files['index.html']?.hash ?? ''))?.toString() ?? '';
  assert.ok(html.includes(`/${js}`), 'index.html references the fingerprinted script');
  t.diagnostic(`${timings.join(', ')}; ${pkg.filesTotal} files`);
  t.diagnostic(lines.filter((l) => /^(Detected|Running|Installed|Build finished|Output|Packaged|Fetching|Checked out|Warning)/.test(l)).join(' | '));
});
