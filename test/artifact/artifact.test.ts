import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { contentType, packageOutput, type PackageOptions } from '../../src/artifact/index.js';
import { LocalBlobStore, sha256, type BlobStore } from '../../src/blobs/index.js';
import { AppError } from '../../src/errors/index.js';
import { parseManifest } from '../../src/manifest/index.js';
import { tempDir } from '../helpers/paths.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;
before(async () => {
  tmp = await tempDir('slipway-artifact-');
});
after(() => tmp.cleanup());

/** Text that compresses well and is over the 1 KB threshold. */
const bigText = (word: string) => `${word} `.repeat(400);

async function writeTree(files: Record<string, string | Buffer>, root = join(tmp.path, `out-${++counter}`)): Promise<string> {
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** A local store that counts writes. */
function countingStore(): BlobStore & { puts: string[] } {
  const inner = new LocalBlobStore(join(tmp.path, `blobs-${++counter}`));
  const puts: string[] = [];
  return {
    puts,
    has: (hash) => inner.has(hash),
    get: (hash) => inner.get(hash),
    stream: (hash, range) => inner.stream(hash, range),
    list: () => inner.list(),
    delete: (hash) => inner.delete(hash),
    put: async (hash, data) => {
      puts.push(hash);
      return inner.put(hash, data);
    },
    putFile: async (hash, path) => {
      puts.push(hash);
      return inner.putFile(hash, path);
    },
  };
}

function pack(outputDir: string, blobs: BlobStore, extra: Partial<PackageOptions> = {}) {
  const lines: string[] = [];
  return packageOutput({ outputDir, blobs, log: (l) => lines.push(l), ...extra }).then((r) => ({ ...r, lines }));
}

describe('packageOutput', () => {
  it('stores every file, the variants and the manifest as blobs', async () => {
    const dir = await writeTree({ 'index.html': bigText('<p>hello</p>'), 'assets/app.js': bigText('console.log(1);'), 'img/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'small.css': 'a{}' });
    const blobs = countingStore();
    const result = await pack(dir, blobs);
    assert.equal(result.filesTotal, 4);
    assert.equal(result.filesUploaded, 4);
    assert.deepEqual(Object.keys(result.manifest.files), ['assets/app.js', 'img/logo.png', 'index.html', 'small.css']);

    const html = result.manifest.files['index.html'];
    assert.ok(html !== undefined);
    assert.equal(html.type, 'text/html; charset=utf-8');
    assert.equal(html.hash, sha256(bigText('<p>hello</p>')));
    assert.ok(html.gzip !== undefined && html.br !== undefined, 'text over 1 KB gets both variants');
    assert.ok(html.br.size < html.size && html.gzip.size < html.size);
    assert.equal(gunzipSync((await blobs.get(html.gzip.hash)) ?? Buffer.alloc(0)).toString(), bigText('<p>hello</p>'));
    assert.equal(brotliDecompressSync((await blobs.get(html.br.hash)) ?? Buffer.alloc(0)).toString(), bigText('<p>hello</p>'));
    assert.equal(result.manifest.files['img/logo.png']?.gzip, undefined, 'images are not recompressed');
    assert.equal(result.manifest.files['small.css']?.gzip, undefined, 'tiny files are not compressed');
    assert.equal(result.manifest.files['small.css']?.type, 'text/css; charset=utf-8');

    const stored = await blobs.get(result.manifestHash);
    assert.ok(stored !== undefined);
    assert.equal(sha256(stored), result.manifestHash);
    assert.deepEqual(parseManifest(stored), result.manifest);
    // 4 raw + 2 × 2 variants + the manifest
    assert.equal(blobs.puts.length, 9);
    let total = stored.length;
    for (const e of Object.values(result.manifest.files)) total += e.size + (e.gzip?.size ?? 0) + (e.br?.size ?? 0);
    assert.equal(result.bytesUploaded, total);
  });

  it('uploads nothing the second time and one file when one changed, reusing the other variants', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`page-${i}.html`] = bigText(`page ${i}`);
    const dir = await writeTree(files);
    const blobs = countingStore();
    const first = await pack(dir, blobs);
    assert.equal(first.filesUploaded, 10);
    assert.equal(first.filesCompressed, 10);

    const again = await pack(dir, blobs, { previous: first.manifest });
    assert.equal(again.filesUploaded, 0);
    assert.equal(again.bytesUploaded, 0);
    assert.equal(again.filesCompressed, 0);
    assert.equal(again.manifestHash, first.manifestHash, 'same output, same manifest');

    await writeFile(join(dir, 'page-3.html'), bigText('page three, edited'));
    const puts = blobs.puts.length;
    const changed = await pack(dir, blobs, { previous: again.manifest });
    assert.equal(changed.filesUploaded, 1);
    assert.equal(changed.filesCompressed, 1, 'only the changed file is recompressed');
    assert.equal(blobs.puts.length - puts, 4, 'raw + gzip + br + manifest');
    assert.notEqual(changed.manifestHash, first.manifestHash);
    assert.deepEqual(changed.manifest.files['page-4.html'], first.manifest.files['page-4.html']);
  });

  it('without a previous manifest, compresses again but uploads only missing blobs', async () => {
    const dir = await writeTree({ 'a.js': bigText('let a;') });
    const blobs = countingStore();
    await pack(dir, blobs);
    const again = await pack(dir, blobs);
    assert.equal(again.filesCompressed, 1);
    assert.equal(again.bytesUploaded, 0);
  });

  it('recompresses when a previous variant blob is missing from the store', async () => {
    const dir = await writeTree({ 'a.js': bigText('let a;') });
    const first = await pack(dir, countingStore());
    const fresh = countingStore();
    const result = await pack(dir, fresh, { previous: first.manifest });
    assert.equal(result.filesCompressed, 1);
    const entry = result.manifest.files['a.js'];
    assert.ok(entry?.gzip !== undefined && (await fresh.has(entry.gzip.hash)));
  });

  it('follows symlinks that stay inside and skips those that leave, dangle or loop', async () => {
    const dir = await writeTree({ 'index.html': 'home', 'docs/guide.html': 'guide' });
    const secret = await writeTree({ 'secret.txt': 'do not serve' });
    await symlink('docs/guide.html', join(dir, 'guide.html'));
    await symlink('docs', join(dir, 'manual'));
    await symlink(join(secret, 'secret.txt'), join(dir, 'leak.txt'));
    await symlink(secret, join(dir, 'leak-dir'));
    await symlink('nowhere.html', join(dir, 'dangling.html'));
    await symlink('loop-b', join(dir, 'loop-a'));
    await symlink('loop-a', join(dir, 'loop-b'));
    await symlink('..', join(dir, 'docs', 'up'));
    const { manifest, lines } = await pack(dir, countingStore());
    assert.deepEqual(Object.keys(manifest.files), ['docs/guide.html', 'guide.html', 'index.html', 'manual/guide.html']);
    assert.equal(manifest.files['guide.html']?.hash, sha256('guide'));
    const warnings = lines.filter((l) => l.startsWith('Warning'));
    for (const name of ['leak.txt', 'leak-dir', 'dangling.html', 'loop-a', 'loop-b', 'docs/up']) {
      assert.ok(
        warnings.some((w) => w.includes(` ${name}:`)),
        `a warning for ${name} in ${warnings.join('\n')}`,
      );
    }
    assert.ok(!JSON.stringify(manifest).includes(sha256('do not serve')));
  });

  it('skips .git always and node_modules when the output is the repository root', async () => {
    const dir = await writeTree({ 'index.html': 'x', 'package.json': '{}', '.git/HEAD': 'ref', 'node_modules/x/index.js': 'x', 'sub/.git/config': 'x', 'sub/node_modules/y.js': 'y' });
    const root = await pack(dir, countingStore());
    assert.deepEqual(Object.keys(root.manifest.files), ['index.html', 'package.json', 'sub/node_modules/y.js']);
    const dist = await pack(dir, countingStore(), { outputIsRoot: false, exclude: (p) => p === 'package.json' });
    assert.deepEqual(Object.keys(dist.manifest.files), ['index.html', 'node_modules/x/index.js', 'sub/node_modules/y.js']);
  });

  it('refuses an empty output', async () => {
    const dir = await writeTree({ '.git/HEAD': 'x' });
    await assert.rejects(pack(dir, countingStore()), (err: unknown) => err instanceof AppError && err.code === 'OUTPUT_NOT_FOUND');
  });

  it('knows the common content types', () => {
    assert.equal(contentType('a/b.MJS').type, 'text/javascript; charset=utf-8');
    assert.equal(contentType('x.svg').type, 'image/svg+xml; charset=utf-8');
    assert.equal(contentType('x.woff2').type, 'font/woff2');
    assert.equal(contentType('x.wasm').compressible, true);
    assert.equal(contentType('x.jpg').compressible, false);
    assert.equal(contentType('LICENSE').type, 'application/octet-stream');
  });
});
