import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

/*
 * Site rules as a user ships them: a repository with vercel.json (in its rootDirectory) and one
 * with _redirects/_headers, pushed, deployed by a real `slipway up` (multi-process edge), asked
 * over HTTP through the edge. A bad rule fails its deployment with the file and rule named, and
 * production keeps serving the deployment before it.
 */

const VERCEL_JSON = {
  redirects: [{ source: '/old/:slug', destination: '/new/:slug', permanent: true }],
  rewrites: [
    { source: '/blog/:slug', destination: '/posts/:slug.html' },
    { source: '/ext', destination: 'https://example.com/' },
    { source: '/internal/:path*', destination: 'https://localhost:1/:path*' },
  ],
  headers: [{ source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] }],
  trailingSlash: false,
};

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;

before(async () => {
  dir = await tempDir('slipway-rules-e2e-');
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '1']);
});
after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function deploy(project: string): Promise<any> {
  const { body } = await slipway.api('POST', `/api/v1/projects/${project}/deployments`, {});
  return waitForStatus(slipway, body.id, ['ready', 'failed'], 180_000);
}
const get = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET') => edgeGet(slipway.edgePort, host, path, headers, method);

describe('vercel.json through slipway up', () => {
  const host = 'vsite.localhost';
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let first: any;

  before(async () => {
    repo = await makeRepo(join(dir.path, 'vrepo'));
    await repo.commit({ 'site/index.html': '<h1>home</h1>', 'site/posts/hello.html': '<h1>hello</h1>', 'site/vercel.json': JSON.stringify(VERCEL_JSON) }, 'site with rules');
    await repo.push();
    const created = await slipway.api('POST', '/api/v1/projects', { name: 'vsite', repoUrl: repo.url, rootDirectory: 'site' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    first = await deploy('vsite');
    assert.equal(first.status, 'ready', JSON.stringify(first.error));
  });

  it('redirects, rewrites and adds headers as vercel.json says', async () => {
    const old = await get(host, '/old/a?ref=x');
    assert.equal(old.status, 308);
    assert.equal(old.headers.location, '/new/a?ref=x');
    const blog = await get(host, '/blog/hello');
    assert.equal(blog.status, 200);
    assert.equal(blog.text, '<h1>hello</h1>');
    assert.equal(blog.headers['x-frame-options'], 'DENY');
    assert.equal(blog.headers['x-slipway-deployment'], first.id);
    const slash = await get(host, '/posts/hello.html/');
    assert.equal(slash.status, 308, 'trailingSlash: false redirects away the slash');
    assert.equal(slash.headers.location, '/posts/hello.html');
  });
  it('lets a redirect answer a POST, and does not serve vercel.json itself', async () => {
    assert.equal((await get(host, '/old/a', {}, 'POST')).status, 308);
    assert.equal((await get(host, '/vercel.json')).status, 404);
  });
  it('refuses a rewrite to an outside URL while the project does not allow it, and to the machine itself even when it does', async () => {
    const ext = await get(host, '/ext');
    assert.equal(ext.status, 502);
    assert.match(ext.text, /does not allow rewrites to outside URLs/);
    const patched = await slipway.api('PATCH', '/api/v1/projects/vsite', { externalRewrites: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const internal = await waitFor(
      'the edge to see externalRewrites',
      async () => {
        const r = await get(host, '/internal/api/v1/projects');
        return /does not allow/.test(r.text) ? undefined : r;
      },
      5000,
    );
    assert.equal(internal.status, 502);
    assert.match(internal.text, /localhost resolves to (127\.0\.0\.1|::1), which is not a public internet address/);
  });
  it('fails a deployment with a bad rule, naming the file, the rule and the problem; production stays', async () => {
    const bad = { ...VERCEL_JSON, redirects: [...VERCEL_JSON.redirects, { source: 'no-slash', destination: '/x' }] };
    await repo.commit({ 'site/vercel.json': JSON.stringify(bad) }, 'a bad rule');
    await repo.push();
    const failed = await deploy('vsite');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'SITE_RULES');
    assert.match(failed.error.message, /vercel\.json redirects\[1\]: "source" must be a path pattern starting with "\/"/);
    const logs = await slipway.api('GET', `/api/v1/deployments/${failed.id}/logs?limit=500`);
    assert.ok(
      logs.body.lines.some((l: { text: string }) => /Error: Bad site rule: vercel\.json redirects\[1\]/.test(l.text)),
      'the log says it too',
    );
    const still = await get(host, '/blog/hello');
    assert.equal(still.status, 200);
    assert.equal(still.headers['x-slipway-deployment'], first.id);
  });
});

describe('_redirects and _headers through slipway up', () => {
  const host = 'nsite.localhost';
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let first: any;

  before(async () => {
    repo = await makeRepo(join(dir.path, 'nrepo'));
    await repo.commit(
      {
        'index.html': '<h1>home</h1>',
        'about.html': '<h1>about</h1>',
        'app.html': '<h1>app shell</h1>',
        _redirects: '# moved\n/about   /elsewhere   301\n/home    /            301\n/app/*   /app.html    200\n/old/*   /new/:splat  302!\n',
        _headers: '/*\n  X-Robots-Tag: noindex\n',
      },
      'netlify-style rules',
    );
    await repo.push();
    const created = await slipway.api('POST', '/api/v1/projects', { name: 'nsite', repoUrl: repo.url });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    first = await deploy('nsite');
    assert.equal(first.status, 'ready', JSON.stringify(first.error));
  });

  it('redirects, rewrites, does not shadow existing files, adds headers, and does not serve the rule files', async () => {
    const home = await get(host, '/home');
    assert.equal(home.status, 301);
    assert.equal(home.headers.location, '/');
    const about = await get(host, '/about');
    assert.equal(about.status, 200, 'a rule without "!" does not shadow about.html');
    assert.equal(about.text, '<h1>about</h1>');
    assert.equal(about.headers['x-robots-tag'], 'noindex');
    const app = await get(host, '/app/settings/profile');
    assert.equal(app.status, 200);
    assert.equal(app.text, '<h1>app shell</h1>');
    const old = await get(host, '/old/a/b');
    assert.equal(old.status, 302);
    assert.equal(old.headers.location, '/new/a/b');
    assert.equal((await get(host, '/_redirects')).status, 404);
    assert.equal((await get(host, '/_headers')).status, 404);
  });
  it('fails a deployment whose _redirects has a bad line, with its number', async () => {
    await repo.commit({ _redirects: '/a /b 301\n\n/c /d 299\n' }, 'bad status');
    await repo.push();
    const failed = await deploy('nsite');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'SITE_RULES');
    assert.match(failed.error.message, /_redirects line 3: status 299 is not supported/);
    assert.equal((await get(host, '/home')).headers['x-slipway-deployment'], first.id);
  });
});
