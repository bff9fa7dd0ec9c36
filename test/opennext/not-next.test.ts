import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildForAws } from '../../src/build/opennext/index.js';
import { AppError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/paths.js';

// No install and no Next.js: the build stops before OpenNext runs, and says why.
let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-opennext-fail-');
});
after(() => tmp.cleanup());

test('a project that is not a Next.js app fails the AWS build with a clear reason, before OpenNext runs', { timeout: 120_000 }, async () => {
  const sourceDir = join(tmp.path, 'src');
  await mkdir(sourceDir);
  await writeFile(join(sourceDir, 'index.html'), '<h1>plain</h1>\n');
  const logs: string[] = [];
  const err = await buildForAws({
    sourceDir,
    settings: { buildCommand: 'echo never' },
    env: {},
    timeoutMs: 60_000,
    log: (line) => logs.push(line),
    cacheDir: join(tmp.path, 'pm-cache'),
    hiddenPaths: [],
    scratchDir: tmp.path,
    zipDir: join(tmp.path, 'zips'),
  }).then(
    () => assert.fail('expected the build to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, 'BUILD_FAILED');
  assert.match(err.message, /^Command "open-next build" exited with code 1/);
  assert.match(err.message, /Next\.js is not installed in this project \(no "next" among its dependencies\)/, err.message);
  assert.ok(!logs.some((l) => l.startsWith('No next.config file')), 'nothing written into a project that is not Next.js');
  assert.ok(logs.some((l) => l.startsWith('Warning: the project\'s buildCommand "echo never" is not used on the AWS target')));
  assert.ok(!logs.includes('never'), 'the project buildCommand did not run');
});
