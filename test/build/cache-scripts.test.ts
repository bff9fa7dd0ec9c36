import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runBuild } from '../../src/build/index.js';
import { tempDir } from '../helpers/paths.js';

// A cache hit skips the install, but the project's own install scripts still run: they often
// generate files outside node_modules that the build needs.
let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(async () => {
  await tmp.cleanup();
});

async function checkout(n: number): Promise<string> {
  const dir = join(tmp.path, `checkout-${n}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'scripts-fixture',
      version: '1.0.0',
      private: true,
      scripts: {
        postinstall: `node -e "require('fs').writeFileSync('generated.txt', 'made by postinstall')"`,
        build: `node -e "const fs=require('fs');fs.mkdirSync('dist',{recursive:true});fs.copyFileSync('generated.txt','dist/index.html')"`,
      },
    }),
  );
  await writeFile(
    join(dir, 'package-lock.json'),
    JSON.stringify({ name: 'scripts-fixture', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'scripts-fixture', version: '1.0.0', hasInstallScript: true } } }),
  );
  return dir;
}

test('a dependency-free project hits the cache on its second build, and postinstall still runs', async () => {
  const results = [];
  for (const n of [1, 2]) {
    const lines: string[] = [];
    const dir = await checkout(n);
    const result = await runBuild({
      sourceDir: dir,
      settings: {},
      env: {},
      timeoutMs: 120_000,
      log: (l) => lines.push(l),
      cacheDir: join(tmp.path, 'cache'),
      cache: { dir: join(tmp.path, 'project') },
      hiddenPaths: [],
    });
    assert.equal(await readFile(join(result.outputDir, 'index.html'), 'utf8'), 'made by postinstall');
    results.push({ result, lines });
  }
  assert.equal(results[0]!.result.cache.dependencies, 'miss');
  assert.equal(results[1]!.result.cache.dependencies, 'hit');
  assert.ok(!results[1]!.lines.includes('Running "npm ci"'), 'the install was skipped');
  assert.ok(results[1]!.lines.includes('Running "npm run postinstall"'), results[1]!.lines.join('\n'));
});
