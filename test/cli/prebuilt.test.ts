import { branchSlug } from '../../src/deployments/index.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, TOKEN, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { hasScript, json, runCli, runCliTty } from './run-cli.js';

// `slipway deploy --prebuilt <dir>`: a folder built elsewhere goes up content-addressed (only
// what the server lacks), becomes a ready deployment without a build, and the edge serves it.
// Then `projects rm` takes a project off the edge.
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let site: string;
let env: Record<string, string>;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const cli = (args: string[], input?: string) => runCli(args, { cwd: dir.path, env, ...(input === undefined ? {} : { input }) });

const files: Record<string, string> = {
  'index.html': '<h1>prebuilt home</h1>\n',
  'about/index.html': '<h1>about</h1>\n',
  'assets/app.js': 'console.log("app");\n',
  // the same bytes as app.js: one blob for two files
  'assets/copy.js': 'console.log("app");\n',
  // big enough to be precompressed
  'assets/big.css': `${'.rule { color: rebeccapurple; margin: 0 auto; }\n'.repeat(200)}`,
};

before(async () => {
  dir = await tempDir('slipway-prebuilt-');
  const repo = await makeRepo(join(dir.path, 'repo'));
  slipway = await startSlipwayProcess(join(dir.path, 'data'));
  env = { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'config') };
  for (const name of ['pre', 'gone', 'asked']) assert.equal((await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url })).status, 201);
  site = join(dir.path, 'dist');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(site, path, '..'), { recursive: true });
    await writeFile(join(site, path), content);
  }
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

test('deploy --prebuilt uploads only the blobs the server lacks, and the edge serves the deployment', async () => {
  const first = await cli(['deploy', '--prebuilt', site, '--project', 'pre', '--prod', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const one = json(first);
  assert.deepEqual(one.missing.sort(), [...new Set(Object.values(files).map(sha256))].sort(), 'the first upload sends every distinct blob');
  assert.equal(one.files, 5);
  assert.equal(one.deployment.status, 'ready');
  assert.equal(one.deployment.isProduction, true);
  const home = await edgeGet(slipway.edgePort, 'pre.localhost', '/');
  assert.equal(home.status, 200);
  assert.equal(home.text, files['index.html']);
  const js = await edgeGet(slipway.edgePort, 'pre.localhost', '/assets/copy.js');
  assert.equal(js.text, files['assets/app.js']);
  assert.match(String(js.headers['content-type']), /javascript/);
  assert.equal((await edgeGet(slipway.edgePort, 'pre.localhost', '/about/')).text, files['about/index.html']);
  const css = await edgeGet(slipway.edgePort, 'pre.localhost', '/assets/big.css', { 'accept-encoding': 'br, gzip' });
  assert.equal(css.headers['content-encoding'], 'br', "text is precompressed like a build's output");
  assert.ok(css.body.length < Buffer.byteLength(files['assets/big.css']!) / 5);

  // one file changes: the server asks for that blob only
  const changed = '<h1>prebuilt home, second edition</h1>\n';
  await writeFile(join(site, 'index.html'), changed);
  const second = json(await cli(['deploy', '--prebuilt', site, '--project', 'pre', '--prod', '--json', '--message', 'second edition']));
  assert.deepEqual(second.missing, [sha256(changed)]);
  assert.equal(second.uploadedBytes, Buffer.byteLength(changed));
  await waitFor('production to serve the second edition', async () => ((await edgeGet(slipway.edgePort, 'pre.localhost', '/')).text === changed ? true : undefined), 10_000);
  const listed = json(await cli(['ls', '--project', 'pre', '--json'])).deployments;
  assert.equal(listed[0].commit.message, 'second edition');
  assert.equal(listed[0].isProduction, true);

  // for people: a summary on stderr; a preview (no --prod) leaves production where it is
  const third = await cli(['deploy', '--prebuilt', site, '--project', 'pre', '--branch', 'feature/x']);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /^Uploaded 0 of 5 files \(0 B\); 5 were already on the server\.$/m);
  assert.match(third.stderr, /Ready: http:\/\/d[a-z0-9]{11}--pre\.localhost:\d+$/m);
  // a branch name that is not a DNS label gets a short hash in its slug (see README: branch previews)
  assert.equal((await edgeGet(slipway.edgePort, `${branchSlug('feature/x', 'pre')}--pre.localhost`, '/')).text, changed);
  assert.equal(json(await cli(['inspect', second.deployment.id, '--json'])).isProduction, true);

  const notDir = await cli(['deploy', '--prebuilt', join(site, 'index.html'), '--project', 'pre']);
  assert.equal(notDir.code, 2);
  assert.match(notDir.stderr, /is not a folder/);
});

test('the server keeps only bytes that hash to their name, and refuses a deployment whose blobs are not all there', async () => {
  const wrong = await fetch(`${slipway.apiUrl}/api/v1/projects/pre/blobs/${sha256('expected bytes')}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
    body: 'other bytes',
  });
  assert.equal(wrong.status, 422);
  assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'BLOB_MISMATCH');
  const asked = await slipway.api('POST', '/api/v1/projects/pre/prebuilt/missing', { hashes: [sha256('expected bytes')] });
  assert.deepEqual(asked.body.missing, [sha256('expected bytes')], 'nothing was stored');
  const created = await slipway.api('POST', '/api/v1/projects/pre/prebuilt', { files: { 'index.html': { hash: sha256('expected bytes'), size: 14 } } });
  assert.equal(created.status, 422);
  assert.equal(created.body.error.code, 'BLOBS_MISSING');
  const dirty = await slipway.api('POST', '/api/v1/projects/pre/prebuilt', { files: { '../etc/passwd': { hash: sha256('x'), size: 1 } } });
  assert.equal(dirty.status, 400);
  assert.equal((await slipway.api('POST', '/api/v1/projects/nope/prebuilt/missing', { hashes: [] })).status, 404);
});

test('projects rm asks for --yes off a terminal, then deletes the project, its caches and its hosts', async () => {
  const deployed = json(await cli(['deploy', '--prebuilt', site, '--project', 'gone', '--prod', '--json']));
  assert.equal(deployed.deployment.status, 'ready');
  assert.equal((await edgeGet(slipway.edgePort, 'gone.localhost', '/')).status, 200);
  const project = (await slipway.api('GET', '/api/v1/projects/gone')).body;
  const caches = [join(dir.path, 'data', 'pm-cache', project.id), join(dir.path, 'data', 'project-cache', project.id)];
  for (const cache of caches) await mkdir(cache, { recursive: true });
  assert.equal((await cli(['domains', 'add', 'gone', 'gone.example.test'])).code, 0);

  const unconfirmed = await cli(['projects', 'rm', 'gone']);
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.stderr, /nothing was deleted[\s\S]*--yes/);
  assert.equal((await slipway.api('GET', '/api/v1/projects/gone')).status, 200);

  assert.deepEqual(json(await cli(['projects', 'rm', 'gone', '--yes', '--json'])), { deleted: 'gone' });
  assert.equal((await slipway.api('GET', '/api/v1/projects/gone')).status, 404);
  assert.equal((await slipway.api('GET', `/api/v1/deployments/${deployed.deployment.id}`)).status, 404);
  await waitFor('the edge to stop serving gone.localhost', async () => ((await edgeGet(slipway.edgePort, 'gone.localhost', '/')).status === 404 ? true : undefined), 10_000);
  for (const cache of caches) await assert.rejects(access(cache), cache);
  // its domain went with it: another project may take the name now
  assert.equal((await cli(['domains', 'add', 'pre', 'gone.example.test'])).code, 0);
  // blobs stay: another project's deployment with the same files still serves
  assert.equal((await edgeGet(slipway.edgePort, 'pre.localhost', '/assets/app.js')).status, 200);
  assert.equal((await cli(['projects', 'rm', 'gone', '--yes'])).code, 3);
});

test('on a terminal: a progress bar for the upload; projects rm asks for the name', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
  await writeFile(join(site, 'assets', 'app.js'), 'console.log("app, third edition");\n');
  const upload = await runCliTty(['deploy', '--prebuilt', site, '--project', 'pre'], { cwd: dir.path, env });
  assert.equal(upload.code, 0, upload.stdout);
  assert.match(upload.stdout, /Uploading 1 of 5 files \x1b\[36m█+\x1b\[39m.* 100%/);
  assert.match(upload.stdout, /Ready: http:\/\/d[a-z0-9]{11}--pre\.localhost:\d+/);

  const refused = await runCliTty(['projects', 'rm', 'asked'], { cwd: dir.path, env, input: 'no\n' });
  assert.equal(refused.code, 2, refused.stdout);
  assert.match(refused.stdout, /Type its name to confirm/);
  assert.equal((await slipway.api('GET', '/api/v1/projects/asked')).status, 200);
  const confirmed = await runCliTty(['projects', 'rm', 'asked'], { cwd: dir.path, env, input: 'asked\n' });
  assert.equal(confirmed.code, 0, confirmed.stdout);
  assert.match(confirmed.stdout, /Deleted asked/);
  assert.equal((await slipway.api('GET', '/api/v1/projects/asked')).status, 404);
});
