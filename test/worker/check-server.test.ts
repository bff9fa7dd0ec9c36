import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { loadConfig } from '../../src/config/index.js';
import { checkServer } from '../../src/worker/check-server.js';
import type { JobDeps } from '../../src/worker/run-job.js';
import { tempDir } from '../helpers/paths.js';
import { packageScript } from '../runtime/helpers.js';

// The server check of a build attempt starts the bundle that attempt packaged. A retried build
// (its worker lost, or its lease) builds and packages again, and a build is not always the same
// bytes twice (Next.js's manifests differ from one `next build` to the next): the folder an
// earlier attempt of the same deployment wrote must not be taken for this one's.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let deps: JobDeps;

before(async () => {
  tmp = await tempDir('slipway-check-server-');
  const config = loadConfig({ 'data-dir': join(tmp.path, 'data') }, {});
  deps = { blobs: new LocalBlobStore(join(tmp.path, 'data', 'blobs')), config } as unknown as JobDeps;
});
after(async () => tmp?.cleanup());

const server = (version: string) => `import { createServer } from 'node:http';\ncreateServer((req, res) => res.end('${version}')).listen(Number(process.env.PORT), process.env.HOST);\n`;

test("a retried attempt's server check runs the bundle it packaged, not the folder an earlier attempt left", async () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const settings = { env: {}, memoryMb: undefined, requestTimeoutMs: undefined };
  const first = await packageScript(tmp.path, deps.blobs, 'attempt-1', server('first build'));
  await checkServer(deps, 'dretried00001', first, settings, log, new AbortController().signal);
  const folder = join(tmp.path, 'data', 'runtime', 'dretried00001');
  assert.match(await readFile(join(folder, 'server.mjs'), 'utf8'), /first build/);

  // the second attempt of the same deployment built other bytes
  const second = await packageScript(tmp.path, deps.blobs, 'attempt-2', server('second build'));
  assert.notEqual(second.files['server.mjs']!.hash, first.files['server.mjs']!.hash);
  await checkServer(deps, 'dretried00001', second, settings, log, new AbortController().signal);
  assert.match(await readFile(join(folder, 'server.mjs'), 'utf8'), /second build/);
  assert.equal(lines.filter((l) => /^The server answered in/.test(l)).length, 2, lines.join('\n'));
});
