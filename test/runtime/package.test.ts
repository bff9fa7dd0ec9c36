import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageServer } from '../../src/artifact/index.js';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { writeAppBundle } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-runtime-pkg-');
});
after(() => tmp.cleanup());

describe('packageServer', () => {
  it('stores a few hundred files and their symlinks, and uploads nothing the second time', async () => {
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs-a'));
    const dir = await writeAppBundle(join(tmp.path, 'app-a'), 100);
    // links that leave the bundle are dropped, never followed
    await writeFile(join(tmp.path, 'secret.txt'), 'secret');
    await symlink('../secret.txt', join(dir, 'escape'));
    await symlink(join(tmp.path, 'secret.txt'), join(dir, 'escape-absolute'));
    await symlink('node_modules/.bin/../../..', join(dir, 'escape-climb'));
    // an absolute link into the bundle becomes relative; x/../y is stored as y
    await symlink(join(dir, 'lib', 'data.txt'), join(dir, 'data-absolute'));
    await symlink('node_modules/../lib/data.txt', join(dir, 'data-roundabout'));
    const warnings: string[] = [];

    const first = await packageServer({ bundleDir: dir, entry: './server.mjs', blobs, log: (l) => warnings.push(l) });
    const { bundle } = first;
    assert.equal(bundle.entry, 'server.mjs');
    assert.equal(first.filesTotal, 100 * 4 + 3);
    assert.equal(Object.keys(bundle.files).length, first.filesTotal);
    // pkg-N/lib/index.js has 7 distinct contents, so fewer blobs than files
    assert.ok(first.filesUploaded < first.filesTotal, `${first.filesUploaded} uploaded`);
    assert.deepEqual(bundle.symlinks, {
      'data-absolute': 'lib/data.txt',
      'data-roundabout': 'lib/data.txt',
      'node_modules/.bin/pkg-0': '../pkg-0/cli.js',
      'node_modules/@scope/one': '../pkg-1',
    });
    assert.equal(bundle.files['node_modules/pkg-0/cli.js']?.mode, 0o755);
    assert.equal(bundle.files['server.mjs']?.mode, 0o644);
    const data = bundle.files['lib/data.txt'];
    assert.equal(data?.hash, sha256(await readFile(join(dir, 'lib', 'data.txt'))));
    assert.equal(warnings.filter((w) => w.startsWith('Warning')).length, 3, warnings.join('\n'));
    assert.ok(!JSON.stringify(bundle).includes('secret'));

    const again = await packageServer({ bundleDir: dir, entry: 'server.mjs', blobs, previous: bundle, log: () => {} });
    assert.equal(again.filesUploaded, 0);
    assert.equal(again.bytesUploaded, 0);
    assert.deepEqual(again.bundle, bundle);
  });

  it('rejects an entry that is not in the bundle', async () => {
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs-b'));
    const dir = join(tmp.path, 'app-b');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'index.js'), '');
    await assert.rejects(packageServer({ bundleDir: dir, entry: 'server.js', blobs, log: () => {} }), /server entry "server.js" is not a file/);
    await assert.rejects(packageServer({ bundleDir: dir, entry: '../index.js', blobs, log: () => {} }), /is not a file/);
  });
});

describe('Runtime.materialize', () => {
  it('writes the bundle once: node_modules hard-linked, app files copied, modes and links kept; racing writers agree', async () => {
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs-c'));
    const dir = await writeAppBundle(join(tmp.path, 'app-c'), 100);
    const { bundle } = await packageServer({ bundleDir: dir, entry: 'server.mjs', blobs, log: () => {} });
    const runtimeDir = join(tmp.path, 'runtime-c');
    const one = new Runtime({ blobs, dir: runtimeDir });
    const two = new Runtime({ blobs, dir: runtimeDir });
    try {
      const paths = (await Promise.all([one.materialize('dpl1', bundle), two.materialize('dpl1', bundle), one.materialize('dpl1', bundle)])).map((m) => m.dir);
      assert.deepEqual(new Set(paths), new Set([join(runtimeDir, 'dpl1')]));
      // no temp folder left behind by the loser of the race
      assert.deepEqual(await readdir(runtimeDir), ['dpl1']);
      const out = paths[0] as string;
      for (const [path, file] of Object.entries(bundle.files)) {
        assert.equal(sha256(await readFile(join(out, path))), file.hash, path);
        assert.equal((await stat(join(out, path))).mode & 0o111 ? 0o755 : 0o644, file.mode, path);
      }
      const linked = await stat(join(out, 'node_modules/pkg-3/package.json'));
      const blob = await stat(blobs.pathOf(bundle.files['node_modules/pkg-3/package.json']!.hash));
      assert.equal(linked.ino, blob.ino, 'node_modules files are hard links to the blob');
      const own = await stat(join(out, 'server.mjs'));
      assert.notEqual(own.ino, (await stat(blobs.pathOf(bundle.files['server.mjs']!.hash))).ino, 'app files are copies');
      assert.ok((await lstat(join(out, 'node_modules/.bin/pkg-0'))).isSymbolicLink());
      assert.equal(await readlink(join(out, 'node_modules/@scope/one')), '../pkg-1');
      assert.equal(await readFile(join(out, 'node_modules/@scope/one/lib/util.js'), 'utf8'), 'exports.id = 1;\n');
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('refuses bundles that would write or point outside their folder', async () => {
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs-d'));
    const hash = sha256('x');
    await blobs.put(hash, Buffer.from('x'));
    const runtime = new Runtime({ blobs, dir: join(tmp.path, 'runtime-d') });
    const file = { hash, size: 1, mode: 0o644 };
    const bad: [string, ServerBundle][] = [
      ['climbing path', { entry: 'a.js', files: { 'a.js': file, '../x.js': file } }],
      ['absolute path', { entry: '/a.js', files: { '/a.js': file } }],
      ['link out', { entry: 'a.js', files: { 'a.js': file }, symlinks: { l: '../..' } }],
      ['absolute link', { entry: 'a.js', files: { 'a.js': file }, symlinks: { l: '/etc' } }],
      ['unnormalised link', { entry: 'a.js', files: { 'a.js': file }, symlinks: { x: '.', l: 'x/../../etc' } }],
      ['file below a link', { entry: 'a.js', files: { 'a.js': file, 'l/b.js': file }, symlinks: { l: '.' } }],
      ['missing entry', { entry: 'b.js', files: { 'a.js': file } }],
      ['bad mode', { entry: 'a.js', files: { 'a.js': { ...file, mode: 0o4755 } } }],
    ];
    try {
      for (const [name, bundle] of bad) {
        await assert.rejects(runtime.materialize(`bad-${bad.findIndex(([n]) => n === name)}`, bundle), Error, name);
      }
      await assert.rejects(runtime.materialize('../up', { entry: 'a.js', files: { 'a.js': file } }), /not a deployment id/);
      await assert.rejects(runtime.materialize('missing', { entry: 'a.js', files: { 'a.js': { ...file, hash: sha256('y') } } }), /not in the store/);
      assert.deepEqual(await readdir(join(tmp.path, 'runtime-d')).catch(() => []), []);
    } finally {
      await runtime.close();
    }
  });
});
