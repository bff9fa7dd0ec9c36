import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { callApi, edgeGet, startSlipwayProcess, TOKEN, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';
import { browserMissing, launchChromium, screenshots, settled, type Browser, type Page } from './browser.js';

// The dashboard as a person uses it: a real `slipway up`, a real git repository, Debian's chromium
// driven by playwright-core, clicking and typing on the served single-page app.
const missing = browserMissing();
if (missing !== undefined) console.log(`# skipping the dashboard browser tests: ${missing}`);
const opts = { skip: missing, timeout: 180_000 };

let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let browser: Browser;
let page: Page;
let firstId: string;
let secondId: string;
const phoneOverflow: Record<string, number> = {};

before(async () => {
  if (missing !== undefined) return;
  dir = await tempDir('slipway-dash-');
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<!doctype html><h1>Hello from version one</h1>' }, 'First version of the site');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '1']);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
  await dir?.cleanup();
});

async function shoot(name: string): Promise<void> {
  const { phoneOverflow: o } = await screenshots(page, name);
  phoneOverflow[name] = o;
}

test('the api serves the app: hashed assets cached forever, index.html revalidated, client routes fall back to it, the API keeps its 404s', { skip: missing }, async () => {
  const index = await fetch(`${slipway.apiUrl}/`, { headers: { 'accept-encoding': 'br, gzip' } });
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  const html = await index.text();
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(js !== undefined, html);
  const asset = await fetch(`${slipway.apiUrl}${js}`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(asset.headers.get('content-encoding'), 'br');
  // the budget: the first load's JavaScript, as sent, under 150 KB
  const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  let jsBytes = 0;
  for (const path of scripts) jsBytes += Number((await fetch(`${slipway.apiUrl}${path}`, { headers: { 'accept-encoding': 'br' } })).headers.get('content-length'));
  assert.ok(jsBytes > 1000 && jsBytes < 150 * 1024, `first-load JavaScript is ${jsBytes} bytes compressed`);
  // a revalidation of index.html costs nothing
  const again = await fetch(`${slipway.apiUrl}/`, { headers: { 'if-none-match': index.headers.get('etag') ?? '' } });
  assert.equal(again.status, 304);
  const route = await fetch(`${slipway.apiUrl}/p/site/d/d123?x=1`);
  assert.equal(route.status, 200);
  assert.equal(await route.text(), html);
  for (const path of ['/api/v1/no-such-route', '/hooks/nowhere', '/api']) {
    const r = await fetch(`${slipway.apiUrl}${path}`);
    assert.equal(r.status, 404, path);
    const body = (await r.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'NOT_FOUND', path);
  }
  assert.equal(((await (await fetch(`${slipway.apiUrl}/healthz`)).json()) as { status: string }).status, 'ok');
  assert.equal((await fetch(`${slipway.apiUrl}/assets/index-old.js`)).status, 404);
  assert.equal((await callApi(slipway.apiUrl, 'GET', '/api/v1/projects')).status, 200);
});

test('sign in with a token; a wrong one is refused with the API message', opts, async () => {
  await page.goto(`${slipway.apiUrl}/`);
  await page.waitForURL(/\/login/);
  await page.getByRole('heading', { name: 'Sign in to Slipway' }).waitFor();
  await shoot('login');
  await page.getByRole('button', { name: 'Sign in with a token instead' }).click();
  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /not valid|Wrong/);
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByText('No projects yet.').waitFor();
  // where the server has sessions, the token became one: an httpOnly cookie, the token kept nowhere
  const accounts = (await callApi(slipway.apiUrl, 'GET', '/api/v1/me')).status === 200;
  if (accounts) {
    const cookie = (await page.context().cookies()).find((c: { name: string }) => c.name === 'slipway_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(await page.evaluate(`sessionStorage.getItem('slipway.token')`), null);
  }
  await shoot('projects-empty');
});

test('create a project from a git repository: the webhook URL and secret are shown once, with copy buttons', opts, async () => {
  await page.getByRole('link', { name: 'New project' }).click();
  await page.getByLabel('Name').fill('site');
  await page.getByLabel('Repository URL').fill(repo.url);
  await shoot('new-project');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: /site is ready/ }).waitFor();
  const secret = await page.getByLabel('Webhook secret').inputValue();
  assert.match(secret, /^[0-9a-f]{64}$/);
  assert.match(await page.getByLabel('Webhook URL').inputValue(), /\/hooks\/github\/site$/);
  assert.equal(await page.getByRole('button', { name: 'Copy' }).count(), 2);
  await shoot('project-created');
  // the same name again: the API's message is shown, not a blank page
  await page.goto(`${slipway.apiUrl}/new`);
  await page.getByLabel('Name').fill('site');
  await page.getByLabel('Repository URL').fill(repo.url);
  await page.getByRole('button', { name: 'Create project' }).click();
  assert.match(await page.getByRole('alert').innerText(), /already exists/);
});

test('deploy from the project page: the build log streams live to ready and the site opens', opts, async () => {
  await page.goto(`${slipway.apiUrl}/p/site`);
  await page.getByText('No deployments yet', { exact: false }).waitFor();
  await page.getByRole('button', { name: /^Deploy/ }).click();
  await page.waitForURL(/\/p\/site\/d\/d[a-z0-9]+$/);
  firstId = page.url().split('/').pop();
  await page.locator('[data-log-state="ended"]').waitFor({ timeout: 120_000 });
  const d = await waitForStatus(slipway, firstId, ['ready', 'failed']);
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
  // the status on the page moved to ready without a reload (the project's event stream)
  await page.locator('.badge.s-ready').first().waitFor();
  const log = await page.getByLabel('Build log').innerText();
  assert.ok(log.split('\n').length > 3, log);
  assert.doesNotMatch(log, /\u001b\[/);
  await page.getByText('Fetch', { exact: true }).waitFor();
  await shoot('deployment');
  const [site] = await Promise.all([page.context().waitForEvent('page'), page.getByRole('link', { name: /^d[a-z0-9]+--site\.localhost/ }).click()]);
  await site.waitForLoadState();
  assert.match(await site.content(), /Hello from version one/);
  await site.close();
});

test('the project list updates live over SSE when a push lands, and filters by branch and status', opts, async () => {
  await page.goto(`${slipway.apiUrl}/p/site`);
  await page.getByText('Live', { exact: true }).waitFor();
  await rm(join(repo.work, 'index.html'));
  // version two is built by a script that prints in colour, as npm and most tools do on a terminal
  await repo.commit(
    {
      'package.json': JSON.stringify({ name: 'dash-site', version: '1.0.0', private: true, scripts: { build: 'node build.mjs' } }),
      'package-lock.json': JSON.stringify({ name: 'dash-site', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'dash-site', version: '1.0.0' } } }),
      'build.mjs': [
        "import { mkdir, writeFile } from 'node:fs/promises';",
        "console.log('\\u001b[31mred warning\\u001b[0m then \\u001b[1;32mbold green\\u001b[0m');",
        "await mkdir('dist', { recursive: true });",
        "await writeFile('dist/index.html', '<!doctype html><h1>Hello from version two</h1>');",
      ].join('\n'),
    },
    'Second version of the site',
  );

  await repo.push();
  const made = await callApi(slipway.apiUrl, 'POST', '/api/v1/projects/site/deployments', { ref: 'main' });
  assert.equal(made.status, 202);
  secondId = made.body.id;
  // no reload: the row appears, then turns ready
  await page.locator(`[data-id="${secondId}"][data-status="ready"]`).waitFor({ timeout: 120_000 });
  await page.locator(`[data-id="${secondId}"] .tag.prod`).waitFor();
  assert.equal(await page.locator(`[data-id="${firstId}"] .tag.prod`).count(), 0);
  await shoot('project');
  await page.getByLabel('Status').selectOption('failed');
  await page.getByText('No deployment matches these filters.').waitFor();
  assert.match(page.url(), /status=failed/);
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Branch').selectOption('main');
  // the list is fetched again for the filter: wait for it rather than count what is there now
  await page.waitForURL(/branch=main/);
  await page.waitForFunction(`document.querySelectorAll('.dep-row').length === 2`);
  // its log shows the colours, not the escape codes
  await page.locator(`[data-id="${secondId}"] a.title`).click();
  await page.locator('[data-log-state="ended"]').waitFor();
  assert.equal(await page.locator('.log span.fg-red').innerText(), 'red warning');
  assert.equal(await page.locator('.log span.b.fg-green').innerText(), 'bold green');
  assert.doesNotMatch(await page.getByLabel('Build log').innerText(), /\[31m|\u001b/);
  const site = await edgeGet(slipway.edgePort, 'site.localhost', '/');
  assert.match(site.text, /version two/);
  await shoot('deployment-colours');
});

test('set a variable in settings: it is listed by name, its value masked', opts, async () => {
  await page.goto(`${slipway.apiUrl}/p/site/settings`);
  await page.getByLabel('Name').fill('API_URL');
  await page.getByLabel('Value').fill('https://secret.example.com/v1');
  await page.getByRole('button', { name: 'Save variable' }).click();
  const row = page.locator('.env-row', { hasText: 'API_URL' });
  await row.waitFor();
  assert.doesNotMatch(await page.content(), /secret\.example\.com/);
  assert.match(await row.innerText(), /\*{8}/);
  const env = await callApi(slipway.apiUrl, 'GET', '/api/v1/projects/site/env');
  assert.deepEqual(
    env.body.env.map((v: { key: string }) => v.key),
    ['API_URL'],
  );
  // a bad setting shows the API's message and hint
  await page.getByLabel('Build timeout (seconds)').fill('0');
  await page.getByRole('button', { name: 'Save build' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /buildTimeoutSeconds/);
  await page.getByLabel('Server memory (MiB)').fill('512');
  await page.getByRole('button', { name: 'Save limits' }).click();
  await page.getByText('Saved. New deployments use it.').waitFor();
  assert.equal((await callApi(slipway.apiUrl, 'GET', '/api/v1/projects/site')).body.serverMemoryMb, 512);
  await page.reload();
  await page.getByLabel('Name').waitFor();
  await shoot('settings');
});

test('roll back to the first deployment after confirming: the edge serves it again', opts, async () => {
  await page.goto(`${slipway.apiUrl}/p/site/d/${firstId}`);
  await page.getByRole('button', { name: 'Roll back to this' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await shoot('rollback-confirm');
  // Escape backs out: nothing moved
  await page.keyboard.press('Escape');
  assert.equal((await callApi(slipway.apiUrl, 'GET', '/api/v1/projects/site')).body.productionDeploymentId, secondId);
  await page.getByRole('button', { name: 'Roll back to this' }).click();
  await dialog.getByRole('button', { name: 'Roll back to this' }).click();
  await page.locator('.tag.prod').waitFor();
  assert.equal((await callApi(slipway.apiUrl, 'GET', '/api/v1/projects/site')).body.productionDeploymentId, firstId);
  const served = await waitFor(
    'the edge to serve version one again',
    async () => {
      const r = await edgeGet(slipway.edgePort, 'site.localhost', '/');
      return /version one/.test(r.text) ? r : undefined;
    },
    10_000,
  );
  assert.equal(served.status, 200);
});

test("logs: the project's requests appear newest first and keep coming while the page is open; the server tab explains an empty log", opts, async () => {
  await edgeGet(slipway.edgePort, 'site.localhost', '/?seen=before');
  await page.goto(`${slipway.apiUrl}/p/site`);
  await page.getByRole('link', { name: 'Logs', exact: true }).click();
  await page.getByRole('heading', { name: 'Logs' }).waitFor();
  const rows = page.locator('table.logs tbody tr');
  await rows.filter({ hasText: '/?seen=before' }).first().waitFor({ timeout: 15_000 });
  // a request made now shows up without a reload, above the older one
  const missing = await edgeGet(slipway.edgePort, 'site.localhost', '/no-such-page-from-the-logs-test');
  assert.equal(missing.status, 404);
  const fresh = rows.filter({ hasText: '/no-such-page-from-the-logs-test' }).first();
  await fresh.waitFor({ timeout: 15_000 });
  assert.equal((await fresh.locator('.http-status').textContent())?.trim(), '404');
  const paths = await rows.locator('.path').allTextContents();
  assert.ok(paths.indexOf('/no-such-page-from-the-logs-test') < paths.indexOf('/?seen=before'), `newest first: ${paths.join(', ')}`);
  await shoot('logs');
  // paused: new requests wait until Resume
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByRole('status').filter({ hasText: 'Paused' }).waitFor();
  await edgeGet(slipway.edgePort, 'site.localhost', '/?seen=while-paused');
  await page.waitForTimeout(3000);
  assert.equal(await rows.filter({ hasText: 'while-paused' }).count(), 0, 'nothing new while paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await rows.filter({ hasText: 'while-paused' }).first().waitFor({ timeout: 15_000 });
  // a row's deployment links to it; the server tab of a static site says why it is empty
  assert.match((await rows.first().locator('a').getAttribute('href')) ?? '', /^\/p\/site\/d\//);
  await page.getByRole('link', { name: 'Server output' }).click();
  await page.getByText('No server output.').waitFor();
});

test('keyboard: every action is reachable with Tab, focus is visible, Enter acts', opts, async () => {
  await page.goto(`${slipway.apiUrl}/p/site`);
  await page.locator('.dep-row').first().waitFor();
  const reached: string[] = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    // (a string: it runs in the page, where the DOM is)
    const f: { text: string; outline: string } | null = await page.evaluate(`(() => {
      const el = document.activeElement;
      if (el === null || el === document.body) return null;
      const style = getComputedStyle(el);
      return { text: (el.innerText || el.getAttribute('aria-label') || el.tagName).trim().split('\\n')[0], outline: style.outlineStyle };
    })()`);
    if (f === null) continue;
    reached.push(f.text ?? '');
    assert.notEqual(f.outline, 'none', `focus on "${f.text}" is not visible`);
  }
  for (const want of ['Skip to content', 'Projects', 'Settings', 'Deploy main'])
    assert.ok(
      reached.some((r) => r.startsWith(want)),
      `Tab never reached "${want}": ${reached.join(' | ')}`,
    );
  // open a deployment with the keyboard alone
  await page.locator(`[data-id="${secondId}"] a.title`).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/d/${secondId}$`));
  await page.getByRole('button', { name: 'Roll back to this' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').waitFor();
  // the dialog takes focus, and Escape closes it
  assert.equal(await page.evaluate("document.activeElement?.closest('dialog') !== null"), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.getByRole('dialog').count(), 0);
});

/** Buttons a viewer may see: none of them changes anything. */
const HARMLESS = /^(Log out|Copy|Copied|Load more|Older events|Try again|Cancel)$/;

test('a viewer invited by link sees everything and no control that changes something', opts, async (t) => {
  const me = await callApi(slipway.apiUrl, 'GET', '/api/v1/me');
  if (me.status === 404) return t.skip('this server has no accounts yet (GET /api/v1/me is 404)');
  const team: string = (await callApi(slipway.apiUrl, 'GET', '/api/v1/projects/site')).body.team ?? 'default';
  const invite = await callApi(slipway.apiUrl, 'POST', `/api/v1/teams/${team}/invitations`, { role: 'viewer' });
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const viewer: Page = await context.newPage();
  try {
    await viewer.goto(new URL(new URL(invite.body.url).pathname, slipway.apiUrl).href);
    await viewer.getByRole('heading', { name: 'Join Default on Slipway' }).waitFor();
    await viewer.getByText('As a viewer.').waitFor();
    await screenshots(viewer, 'invite');
    await viewer.getByLabel('Email').fill('viewer@example.com');
    await viewer.getByLabel('Password').fill('a long viewer password');
    await viewer.getByRole('button', { name: 'Create account and join' }).click();
    await viewer.getByRole('heading', { name: 'Projects' }).waitFor();
    await viewer.locator('.project-row').first().waitFor();
    const pages = ['/', '/p/site', `/p/site/d/${firstId}`, `/p/site/d/${secondId}`, '/p/site/settings', '/members'];
    for (const path of pages) {
      await viewer.goto(`${slipway.apiUrl}${path}`);
      await viewer.locator('main h1').waitFor();
      await settled(viewer);
      const buttons: string[] = await viewer.evaluate(
        `[...document.querySelectorAll('main button:enabled, header button:enabled')].filter((b) => b.offsetParent !== null).map((b) => b.innerText.trim())`,
      );
      for (const b of buttons) assert.match(b, HARMLESS, `a viewer sees "${b}" on ${path}`);
      assert.equal(await viewer.getByRole('link', { name: 'New project' }).count(), 0, path);
      // settings are shown, but the fields cannot be edited
      const editable: number = await viewer.evaluate(`document.querySelectorAll('main input:enabled:not([readonly])').length`);
      if (path.endsWith('/settings')) assert.equal(editable, 0, 'a viewer can type into a setting');
    }
    await viewer.goto(`${slipway.apiUrl}/p/site/settings`);
    await viewer.locator('.env-row').first().waitFor();
    await screenshots(viewer, 'settings-viewer');
    // log out, and back in with email and password (a wrong password says nothing of which part was wrong)
    await viewer.getByRole('button', { name: 'Log out' }).click();
    await viewer.getByRole('heading', { name: 'Sign in to Slipway' }).waitFor();
    await viewer.getByLabel('Email').fill('viewer@example.com');
    await viewer.getByLabel('Password').fill('not the password');
    await viewer.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match(await viewer.getByRole('alert').innerText(), /Wrong email or password/);
    await viewer.getByLabel('Password').fill('a long viewer password');
    await viewer.getByRole('button', { name: 'Sign in', exact: true }).click();
    await viewer.getByText('viewer@example.com').waitFor();
    await viewer.locator('.project-row').first().waitFor();
  } finally {
    await context.close();
  }
});

test('the other pages render, and nothing is wider than a phone', opts, async () => {
  await page.goto(`${slipway.apiUrl}/`);
  await page.locator('.project-row').first().waitFor();
  await shoot('projects');
  await page.goto(`${slipway.apiUrl}/members`);
  await page.locator('.member-row').first().waitFor();
  assert.equal(await page.locator('#i-role').inputValue(), 'member', 'an invitation is for a member unless the owner picks otherwise');
  for (const [path, name] of [
    ['/teams', 'teams'],
    ['/members', 'members'],
    ['/tokens', 'tokens'],
    ['/audit', 'audit'],
    ['/nowhere', 'not-found'],
  ] as const) {
    await page.goto(`${slipway.apiUrl}${path}`);
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(200);
    await shoot(name);
  }
  for (const [name, overflow] of Object.entries(phoneOverflow)) assert.ok(overflow <= 0, `${name} scrolls sideways at phone width by ${overflow}px`);
});
