import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runBuild } from '../../src/build/index.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// pnpm and yarn projects, installed for real through corepack from the registry.
let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(async () => {
  await tmp.cleanup();
});

for (const [pm, fixture, frozen] of [
  ['pnpm', 'build-pnpm', 'pnpm@9.15.0 install --frozen-lockfile'],
  ['yarn', 'build-yarn', 'yarn@1.22.22 install --frozen-lockfile'],
] as const) {
  test(`a ${pm} project installs with its lockfile frozen and builds`, async () => {
    const dir = join(tmp.path, pm);
    await cp(join(fixturesDir, fixture), dir, { recursive: true });
    const lines: string[] = [];
    const result = await runBuild({ sourceDir: dir, settings: {}, env: {}, timeoutMs: 180_000, log: (l) => lines.push(l), cacheDir: join(tmp.path, 'cache'), hiddenPaths: [] });
    assert.equal(result.packageManager, pm);
    assert.ok(
      lines.some((l) => l.includes(`Running "corepack ${frozen}"`)),
      lines.join('\n'),
    );
    const html = await readFile(join(result.outputDir, 'index.html'), 'utf8');
    assert.match(html, new RegExp(`built with ${pm}; isNumber\\(5\\)=true`));
  });
}
