/**
 * The Next.js fixture built for real (npm ci + next build with standalone output) and packaged
 * as one deployment's blobs: what the SSR benches serve. SLIPWAY_BENCH_NEXT_DIR names a built
 * copy of test/fixtures/next-app to skip the build.
 */
import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageOutput, packageServer } from '../src/artifact/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import { fixturesDir } from '../test/helpers/paths.js';

const run$ = promisify(execFile);

export async function buildNextSite(dir: string) {
  let app = process.env.SLIPWAY_BENCH_NEXT_DIR;
  if (app === undefined) {
    app = join(dir, 'app');
    await cp(join(fixturesDir, 'next-app'), app, { recursive: true });
    await run$('npm', ['ci'], { cwd: app, maxBuffer: 64 * 1024 * 1024 });
    await run$('npx', ['next', 'build'], { cwd: app, env: { ...process.env, NEXT_PRIVATE_STANDALONE: '1', NEXT_TELEMETRY_DISABLED: '1' }, maxBuffer: 64 * 1024 * 1024 });
  }
  const standalone = join(app, '.next', 'standalone');
  const blobs = new LocalBlobStore(join(dir, 'blobs'));
  const { bundle } = await packageServer({ bundleDir: standalone, entry: 'server.js', blobs, log: () => {} });
  const staticDir = join(dir, 'static');
  await cp(join(app, '.next', 'static'), join(staticDir, '_next', 'static'), { recursive: true });
  const pkg = await packageOutput({ outputDir: staticDir, blobs, log: () => {}, server: bundle });
  return { standalone, blobs, bundle, pkg };
}
