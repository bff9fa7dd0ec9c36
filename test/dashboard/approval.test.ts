import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/paths.js';
import { callApi, edgeGet, startSlipwayProcess, TOKEN, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { browserMissing, launchChromium, screenshots, settled, type Browser, type Page } from './browser.js';

// Approve and Reject on the deployment page, as people use them: a real `slipway up`, chromium,
// and production set to require approval. The deployments are prebuilt uploads (no build):
// one upload to production waits in awaiting-approval like a build would.
const missing = browserMissing();
if (missing !== undefined) console.log(`# skipping the dashboard approval tests: ${missing}`);
const opts = { skip: missing, timeout: 120_000 };

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let browser: Browser;

before(async () => {
  if (missing !== undefined) return;
  dir = await tempDir('slipway-dash-approval-');
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
  assert.equal((await callApi(slipway.apiUrl, 'POST', '/api/v1/projects', { name: 'gated', repoUrl: 'file:///nowhere' })).status, 201);
  assert.equal((await callApi(slipway.apiUrl, 'PATCH', '/api/v1/projects/gated/environments/production', { requiresApproval: true })).status, 200);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
  await dir?.cleanup();
});

/** Upload one page as a prebuilt production deployment; returns its id (it waits for approval). */
async function upload(html: string): Promise<string> {
  const hash = createHash('sha256').update(html).digest('hex');
  const put = await fetch(`${slipway.apiUrl}/api/v1/projects/gated/blobs/${hash}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
    body: html,
  });
  assert.ok(put.status === 201 || put.status === 200, String(put.status));
  const made = await callApi(slipway.apiUrl, 'POST', '/api/v1/projects/gated/prebuilt', { files: { 'index.html': { hash, size: Buffer.byteLength(html) } }, target: 'production' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.status, 'awaiting-approval');
  return made.body.id as string;
}

async function signIn(page: Page, fill: (page: Page) => Promise<void>): Promise<void> {
  await page.goto(`${slipway.apiUrl}/`);
  await page.getByRole('heading', { name: 'Sign in to Slipway' }).waitFor();
  await fill(page);
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
}

test('an owner approves after confirming and production serves it; a rejected one never does; a viewer sees neither button', opts, async () => {
  const first = await upload('<h1>first, approved</h1>');
  assert.equal((await edgeGet(slipway.edgePort, 'gated.localhost', '/')).status, 404, 'waiting: production serves nothing yet');
  const page: Page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await signIn(page, async (p) => {
    await p.getByRole('button', { name: 'Sign in with a token instead' }).click();
    await p.getByLabel('API token').fill(TOKEN);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  });
  await page.goto(`${slipway.apiUrl}/p/gated/d/${first}`);
  await page.getByText('Awaiting approval').first().waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await screenshots(page, 'approve-confirm');
  // Escape backs out: nothing moved
  await page.keyboard.press('Escape');
  assert.equal((await callApi(slipway.apiUrl, 'GET', `/api/v1/deployments/${first}`)).body.status, 'awaiting-approval');
  await page.getByRole('button', { name: 'Approve' }).click();
  await dialog.getByRole('button', { name: 'Approve' }).click();
  await page.locator('.badge.s-ready').waitFor();
  assert.equal((await edgeGet(slipway.edgePort, 'gated.localhost', '/')).text, '<h1>first, approved</h1>');

  const second = await upload('<h1>second, rejected</h1>');
  // a viewer (email and password) sees the waiting deployment and no button that decides it
  assert.equal((await callApi(slipway.apiUrl, 'POST', '/api/v1/users', { email: 'watcher@example.com', password: 'a long viewer password', team: 'default', role: 'viewer' })).status, 201);
  const viewer: Page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await signIn(viewer, async (p) => {
    await p.getByLabel('Email').fill('watcher@example.com');
    await p.getByLabel('Password').fill('a long viewer password');
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  });
  await viewer.goto(`${slipway.apiUrl}/p/gated/d/${second}`);
  await viewer.getByText('Awaiting approval').first().waitFor();
  await settled(viewer);
  assert.equal(await viewer.getByRole('button', { name: 'Approve' }).count(), 0);
  assert.equal(await viewer.getByRole('button', { name: 'Reject' }).count(), 0);

  await page.goto(`${slipway.apiUrl}/p/gated/d/${second}`);
  await page.getByRole('button', { name: 'Reject' }).click();
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Reject' }).click();
  await page.locator('.badge.s-rejected').waitFor();
  await screenshots(page, 'rejected');
  const audit = await callApi(slipway.apiUrl, 'GET', '/api/v1/teams/default/audit');
  assert.deepEqual(
    audit.body.events.filter((e: any) => e.action.startsWith('deployment.')).map((e: any) => [e.action, e.target]),
    [
      ['deployment.reject', second],
      ['deployment.approve', first],
    ],
  );
  const served = await waitFor('production to keep the approved one', async () => (await edgeGet(slipway.edgePort, 'gated.localhost', '/')).text, 2000);
  assert.equal(served, '<h1>first, approved</h1>');
});
