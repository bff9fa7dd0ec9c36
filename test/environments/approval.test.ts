import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../cli/run-cli.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { callApi, edgeGet, startSlipwayProcess, TOKEN, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// Approval end to end: `slipway up` as a real process, a real git repository, two real builds
// of a tiny static site (no dependencies) whose build writes a variable into the page. A
// staging build waits, serves at its own URL only, a viewer cannot approve it, an owner does
// and the staging host serves it; a rejected one never serves there.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let owner: string;
let viewer: string;

const BUILD = `
const fs = require('node:fs');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/index.html', '<p>' + fs.readFileSync('VERSION', 'utf8') + ' greeting=' + process.env.GREETING + ' flag=' + (process.env.FLAG || 'none') + '</p>');
`;
const pkg = JSON.stringify({ name: 'approved', private: true, scripts: { build: 'node build.js' } });

/** A person in team acme with `role`, holding a personal token made through their own session. */
async function person(email: string, role: string): Promise<string> {
  const password = `pw-${email}-long-enough`;
  assert.equal((await slipway.api('POST', '/api/v1/users', { email, password, team: 'acme', role })).status, 201);
  const login = await fetch(`${slipway.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const made = await callApi(slipway.apiUrl, 'POST', '/api/v1/tokens', { name: 'tests' }, { cookie, 'x-csrf-token': csrfToken, authorization: '' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.token as string;
}

const as = (token: string, method: string, path: string, body?: unknown) => callApi(slipway.apiUrl, method, path, body, { authorization: `Bearer ${token}` });
const page = async (host: string) => edgeGet(slipway.edgePort, host, '/');

/** POST a form through the edge as a browser on `host` would. */
function postForm(host: string, path: string, body: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: slipway.edgePort,
        path,
        method: 'POST',
        agent: false,
        headers: { host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'package.json': pkg, 'build.js': BUILD, VERSION: 'v1' }, 'first');
  await repo.push();
  await repo.checkout('staging', true);
  await repo.push('staging');
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
  assert.equal((await slipway.api('POST', '/api/v1/teams', { slug: 'acme' })).status, 201);
  owner = await person('owner@example.com', 'owner');
  viewer = await person('viewer@example.com', 'viewer');
  assert.equal((await as(owner, 'POST', '/api/v1/projects', { name: 'site', repoUrl: repo.url, team: 'acme' })).status, 201);
  const env = await as(owner, 'POST', '/api/v1/projects/site/environments', { name: 'staging', branch: 'staging', requiresApproval: true });
  assert.equal(env.status, 201, JSON.stringify(env.body));
  assert.equal(env.body.url, `http://staging--site.localhost:${slipway.edgePort}`);
  // one name, a value per environment, and an override for one branch of one environment
  for (const [key, body] of [
    ['GREETING', { value: 'hello from production', targets: ['production'] }],
    ['GREETING', { value: 'hello from staging', targets: ['staging'] }],
  ] as const) {
    assert.equal((await as(owner, 'PUT', `/api/v1/projects/site/env/${key}`, body)).status, 201);
  }
  const cliEnv = { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: owner, XDG_CONFIG_HOME: join(dir.path, 'cfg') };
  const set = await runCli(['env', 'set', 'FLAG', 'on', '--target', 'staging', '--branch', 'staging', '--project', 'site'], { env: cliEnv });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /^Set FLAG for staging on branch staging\./m);
  const ls = await runCli(['env', 'ls', '--project', 'site'], { env: cliEnv });
  assert.match(ls.stdout, /^FLAG\tstaging\tstaging\tupdated /m);
  assert.match(ls.stdout, /^GREETING\tproduction\t-\tupdated /m);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

test('a staging build waits for approval; a viewer cannot approve; an owner does and staging serves it', async () => {
  const sha = await repo.commit({ VERSION: 'v2' }, 'v2');
  await repo.push('staging');
  const made = await as(owner, 'POST', '/api/v1/projects/site/deployments', { ref: 'staging', environment: 'staging' });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  assert.equal(made.body.environment, 'staging');
  assert.equal(made.body.target, 'preview', 'old readers see a non-production deployment');
  assert.equal(made.body.commit.sha, sha);
  const id = made.body.id as string;
  const waiting = await waitForStatus(slipway, id, ['awaiting-approval', 'ready', 'failed']);
  assert.equal(waiting.status, 'awaiting-approval', JSON.stringify(waiting.error));

  // the reviewer's URL serves the build (with staging's variables and the branch override); staging does not
  const own = await page(`${id}--site.localhost`);
  assert.equal(own.status, 200);
  assert.equal(own.text, '<p>v2 greeting=hello from staging flag=on</p>');
  assert.equal((await page('staging--site.localhost')).status, 404);

  const refused = await as(viewer, 'POST', `/api/v1/deployments/${id}/approve`, {});
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'FORBIDDEN');
  assert.equal((await slipway.api('GET', `/api/v1/deployments/${id}`)).body.status, 'awaiting-approval');

  const approved = await runCli(['approve', id, '--reason', 'checked the review URL'], { env: { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: owner, XDG_CONFIG_HOME: join(dir.path, 'cfg') } });
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /Approved: staging of site now serves/);
  assert.equal((await slipway.api('GET', `/api/v1/deployments/${id}`)).body.status, 'ready');
  assert.equal((await page('staging--site.localhost')).text, '<p>v2 greeting=hello from staging flag=on</p>');
  assert.equal((await page('site.localhost')).status, 404, 'production is untouched');
  // ready means live for an approval's move too: liveAt once every edge serves it
  const live = await waitFor('liveAt after the approval', async () => (await slipway.api('GET', `/api/v1/deployments/${id}`)).body.liveAt ?? undefined, 15_000);
  assert.ok(Date.parse(live) > 0, String(live));

  const audit = await as(owner, 'GET', '/api/v1/teams/acme/audit');
  const entry = audit.body.events.find((e: any) => e.action === 'deployment.approve');
  assert.equal(entry.target, id);
  assert.equal(entry.actor.email, 'owner@example.com');
  assert.equal(entry.details.environment, 'staging');
  assert.equal(entry.details.reason, 'checked the review URL');
  assert.ok(Date.now() - Date.parse(entry.at) < 120_000);
});

test('a rejected build never serves at the environment URL', async () => {
  await repo.commit({ VERSION: 'v3' }, 'v3');
  await repo.push('staging');
  const deployed = await runCli(['deploy', '--project', 'site', '--ref', 'staging', '--env', 'staging', '--json'], {
    env: { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'cfg') },
  });
  assert.equal(deployed.code, 0, deployed.stderr);
  const d = JSON.parse(deployed.stdout) as { id: string; status: string };
  assert.equal(d.status, 'awaiting-approval', 'deploy --env follows the build until it waits');
  assert.equal((await page(`${d.id}--site.localhost`)).text, '<p>v3 greeting=hello from staging flag=on</p>');

  const rejected = await as(owner, 'POST', `/api/v1/deployments/${d.id}/reject`, { reason: 'not this one' });
  assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
  assert.equal(rejected.body.status, 'rejected');
  assert.equal((await page('staging--site.localhost')).text, '<p>v2 greeting=hello from staging flag=on</p>', 'staging keeps the approved one');
  await waitFor('the rejected build to leave its own host', async () => ((await page(`${d.id}--site.localhost`)).status === 404 ? true : undefined), 5000);
  const trail = (await as(owner, 'GET', '/api/v1/teams/acme/audit')).body.events.find((e: any) => e.action === 'deployment.reject');
  assert.equal(trail.target, d.id);
  assert.equal(trail.details.reason, 'not this one');
  const again = await as(owner, 'POST', `/api/v1/deployments/${d.id}/approve`, {});
  assert.equal(again.status, 409, 'a rejection is final');
  const promote = await as(owner, 'POST', `/api/v1/deployments/${d.id}/promote`, { environment: 'staging' });
  assert.equal(promote.status, 409, 'nor can it be promoted there');
  assert.equal((await page('staging--site.localhost')).text, '<p>v2 greeting=hello from staging flag=on</p>');
});

test('protection: staging answers 401 with a form unless the request has the cookie or the bypass token; production is unaffected', async () => {
  const staging = (await as(owner, 'GET', '/api/v1/projects/site/environments/staging')).body;
  assert.equal(staging.protection, null, 'off by default');
  const served = (await slipway.api('GET', '/api/v1/projects/site/deployments')).body.deployments.find((d: any) => d.status === 'ready');
  assert.equal((await as(owner, 'POST', `/api/v1/deployments/${served.id}/promote`, {})).status, 200);
  const prodText = (await page('site.localhost')).text;

  const token = await as(owner, 'PATCH', '/api/v1/projects/site/environments/staging', { protection: { mode: 'token' } });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  assert.deepEqual(token.body.protection, { mode: 'token' });
  const bypass = token.body.bypassToken as string;
  assert.match(bypass, /^sbp_/);
  assert.equal(JSON.stringify((await as(owner, 'GET', '/api/v1/projects/site/environments/staging')).body).includes(bypass), false, 'shown once');

  const locked = await page('staging--site.localhost');
  assert.equal(locked.status, 401);
  assert.match(locked.text, /<form method="post"/);
  assert.equal((await page(`${served.id}--site.localhost`)).status, 401, "the environment's deployments are covered too");
  assert.equal((await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { 'x-slipway-protection-bypass': 'sbp_wrong' })).status, 401);
  const viaHeader = await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { 'x-slipway-protection-bypass': bypass });
  assert.equal(viaHeader.status, 200);
  assert.equal(viaHeader.text, '<p>v2 greeting=hello from staging flag=on</p>');
  const viaLink = await edgeGet(slipway.edgePort, 'staging--site.localhost', `/?slipway-bypass=${bypass}`);
  assert.equal(viaLink.status, 200);
  const cookie = String(viaLink.headers['set-cookie']).split(';')[0]!;
  assert.match(String(viaLink.headers['set-cookie']), /HttpOnly/);
  assert.equal((await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { cookie })).status, 200, 'the cookie lets the browser in');
  assert.equal((await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { cookie: `${cookie.slice(0, -3)}xyz` })).status, 401, 'a forged cookie does not');

  const prod = await page('site.localhost');
  assert.equal(prod.status, 200, 'production is not protected');
  assert.equal(prod.text, prodText);

  // password mode: the form posts the password and gets the cookie
  assert.equal((await as(owner, 'PATCH', '/api/v1/projects/site/environments/staging', { protection: { mode: 'password', password: 'open sesame 42' } })).status, 200);
  const form = (password: string) => postForm('staging--site.localhost', '/__slipway/protection', `password=${encodeURIComponent(password)}&next=%2F`);
  assert.equal((await form('wrong password')).status, 401);
  assert.match((await form('wrong again')).text, /Wrong password/);
  const ok = await form('open sesame 42');
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/');
  const passwordCookie = String(ok.headers['set-cookie']).split(';')[0]!;
  assert.equal((await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { cookie: passwordCookie })).text, '<p>v2 greeting=hello from staging flag=on</p>');
  assert.equal((await edgeGet(slipway.edgePort, 'staging--site.localhost', '/', { 'x-slipway-protection-bypass': bypass })).status, 401, 'the old token no longer works');
  // guessing is slowed down: after 10 wrong answers in a minute the form refuses even the right one
  for (let i = 2; i < 10; i += 1) assert.equal((await form(`guess ${i}`)).status, 401);
  const locked429 = await form('open sesame 42');
  assert.equal(locked429.status, 429);
  assert.equal(locked429.headers['retry-after'], '60');
  const db = await as(owner, 'GET', '/api/v1/projects/site/environments/staging');
  assert.equal(JSON.stringify(db.body).includes('sesame'), false);

  assert.equal((await as(owner, 'PATCH', '/api/v1/projects/site/environments/staging', { protection: null })).status, 200);
  assert.equal((await page('staging--site.localhost')).status, 200, 'off again');
});
