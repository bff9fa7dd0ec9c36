import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, type RunningSlipway } from '../helpers/slipway.js';
import { waitForStatus } from '../helpers/slipway.js';

// A project's variables reach its build, and the build log never shows their values: `slipway
// up` as a real process, a real git push, a real npm build that prints the values every way
// it can.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let secret: string;

const TOKEN_VALUE = 'tok_live_9f8e7d6c5b4a3f2e1d0c';
const KEY_LINES = ['-----BEGIN TEST KEY-----', 'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu', '-----END TEST KEY-----'];

// prints the token alone, inside a sentence, past the 4096-character line cut (split across
// two log lines), and the multi-line key a line at a time; writes the token into the output
const BUILD = `
const fs = require('node:fs');
const t = process.env.API_TOKEN;
console.log(t);
console.log('the token is ' + t + ', keep it safe');
console.log('x'.repeat(4080) + t + ' tail');
console.log(process.env.SIGNING_KEY);
console.error('stderr ' + t);
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/index.html', '<p>token=' + t + '</p><p>short=' + process.env.SHORT + '</p><p>mode=' + process.env.MODE + '</p>');
if (process.env.FAIL === '1') { console.error('Error: cannot use ' + t); process.exit(1); }
`;

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'envbuild', repoUrl: repo.url });
  secret = created.body.webhookSecret;
  const set = (key: string, value: string, targets?: string[]) => slipway.api('PUT', `/api/v1/projects/envbuild/env/${key}`, { value, ...(targets === undefined ? {} : { targets }) });
  assert.equal((await set('API_TOKEN', TOKEN_VALUE)).status, 201);
  assert.equal((await set('SIGNING_KEY', KEY_LINES.join('\n'))).status, 201);
  assert.equal((await set('SHORT', 'ab')).status, 201);
  assert.equal((await set('MODE', 'production-mode', ['production'])).status, 201);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function push(files: Record<string, string>, message: string): Promise<string> {
  const sha = await repo.commit(files, message);
  await repo.push();
  const res = await sendWebhook(slipway.apiUrl, 'envbuild', secret, pushPayload({ ref: 'refs/heads/main', after: sha, message }));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.deploymentId as string;
}

async function logText(id: string): Promise<string> {
  const res = await slipway.api('GET', `/api/v1/deployments/${id}/logs?limit=5000`);
  return (res.body.lines as { text: string }[]).map((l) => l.text).join('\n');
}

const pkg = JSON.stringify({ name: 'envbuild', private: true, scripts: { build: 'node build.js' } });

test('the build sees the variables; the log shows none of their values', async () => {
  const id = await push({ 'package.json': pkg, 'build.js': BUILD }, 'print the secrets');
  const d = await waitForStatus(slipway, id, ['ready', 'failed']);
  assert.equal(d.status, 'ready', JSON.stringify(d.error));

  const page = await edgeGet(slipway.edgePort, 'envbuild.localhost', '/');
  assert.equal(page.status, 200);
  assert.equal(page.text, `<p>token=${TOKEN_VALUE}</p><p>short=ab</p><p>mode=production-mode</p>`, 'the build saw every variable of its target');

  const log = await logText(id);
  assert.match(log, /^\*\*\*$/m, 'the value alone is masked');
  assert.match(log, /the token is \*\*\*, keep it safe/);
  assert.match(log, /stderr \*\*\*/);
  for (const secretPart of [TOKEN_VALUE, TOKEN_VALUE.slice(0, 8), TOKEN_VALUE.slice(-8), KEY_LINES[1]!]) {
    assert.equal(log.includes(secretPart), false, `the log shows ${secretPart}:\n${log.slice(0, 3000)}`);
  }
  assert.equal(log.includes('-----BEGIN TEST KEY-----'), false, 'each line of a multi-line value is masked');
});

test('a failed build that prints a value in its error keeps it out of the stored error too', async () => {
  const id = await push({ 'package.json': JSON.stringify({ name: 'envbuild', private: true, scripts: { build: 'FAIL=1 node build.js' } }) }, 'fail loudly');
  const d = await waitForStatus(slipway, id, ['ready', 'failed']);
  assert.equal(d.status, 'failed');
  const shown = JSON.stringify(d);
  assert.match(shown, /cannot use \*\*\*/, shown);
  assert.equal(shown.includes(TOKEN_VALUE), false);
  assert.equal((await logText(id)).includes(TOKEN_VALUE), false);
});
