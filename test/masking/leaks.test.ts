import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { pushPayload, sendWebhook, startSlipwayProcess, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';
import { packageScript } from '../runtime/helpers.js';

// A hostile build and a hostile server print a random secret every way that defeats a
// line-by-line mask: in pieces written separately, one byte at a time, across the 4,096- and
// 2,000-character cuts, in pieces on lines of their own, on stdout and stderr, and in the
// error of a failing build. No piece of 8 characters of it may be seen anywhere.
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
const SECRET = randomBytes(30).toString('base64url');

before(async () => {
  dir = await tempDir();
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

/** the pieces of SECRET of 8 or more characters found in `text` (each reported by its 8-character start) */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 8 <= SECRET.length; i += 1) if (text.includes(SECRET.slice(i, i + 8))) found.push(SECRET.slice(i, i + 8));
  return found;
}

// shared by the build and the server: every way of printing the secret, then `done()`
const PRINT = `
const s = process.env.LEAKY;
const fs = require('node:fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function leak(done) {
  // in pieces, each its own write, with pauses so each is its own chunk
  for (const [a, b] of [[0, 5], [5, 13], [13, 14], [14, 33], [33, s.length]]) { fs.writeSync(1, s.slice(a, b)); await sleep(15); }
  fs.writeSync(1, '\\n');
  // one byte at a time
  for (const c of s) { fs.writeSync(2, c); await sleep(2); }
  fs.writeSync(2, '\\n');
  // one 10,000-character line with the secret across the 4,096 cut, another across the 2,000 cut
  console.log('a'.repeat(4090) + s + 'b'.repeat(10000 - 4090 - s.length));
  console.log('c'.repeat(1995) + s + 'd'.repeat(3000));
  // in pieces of 8+ characters on lines of their own
  for (let i = 0; i < s.length; i += 10) console.log('piece: ' + s.slice(i, i + 10));
  console.error('Error: cannot use ' + s);
  await sleep(50);
  done();
}
`;

test('a build that prints the secret in pieces, byte by byte and in long lines leaks no piece of it into the log, the error or the API', async () => {
  const repo = await makeRepo(join(dir.path, 'repo'));
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api,worker']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'leaky', repoUrl: repo.url });
  assert.equal(created.status, 201);
  assert.equal((await slipway.api('PUT', '/api/v1/projects/leaky/env/LEAKY', { value: SECRET })).status, 201);
  const sha = await repo.commit(
    {
      'package.json': JSON.stringify({ name: 'leaky', private: true, scripts: { build: 'node leak.js' } }),
      'leak.js': `${PRINT}\nleak(() => process.exit(1));\n`,
    },
    'leak the secret',
  );
  await repo.push();
  const hook = await sendWebhook(slipway.apiUrl, 'leaky', created.body.webhookSecret, pushPayload({ ref: 'refs/heads/main', after: sha }));
  assert.equal(hook.status, 202, JSON.stringify(hook.body));
  const d = await waitForStatus(slipway, hook.body.deploymentId, ['ready', 'failed']);
  assert.equal(d.status, 'failed');
  assert.match(d.error.message, /cannot use \*\*\*/, 'the failure names the line, masked');

  const logs = await slipway.api('GET', `/api/v1/deployments/${d.id}/logs?limit=5000`);
  const log = (logs.body.lines as { text: string }[]).map((l) => l.text).join('\n');
  assert.match(log, /^piece: \*\*\*$/m, 'the build did print (and the log kept) its pieces');
  assert.ok(log.includes(`${'a'.repeat(100)}***`), 'the long line is in the log, masked');
  assert.deepEqual(leaks(log), [], 'the stored log');
  const list = await slipway.api('GET', '/api/v1/projects/leaky/deployments');
  assert.deepEqual(leaks(JSON.stringify(list.body) + JSON.stringify(d)), [], 'the API answers');
  assert.deepEqual(leaks(slipway.output()), [], 'the platform console');
});

test('a server that prints the secret the same ways leaks no piece of it into its output, the runtime log or a start error', async () => {
  const blobs = new LocalBlobStore(join(dir.path, 'blobs'));
  const logged: string[] = [];
  const printed: string[] = [];
  const runtime = new Runtime({ blobs, dir: join(dir.path, 'runtime'), startTimeoutMs: 20_000, log: (m, e) => logged.push(`${m} ${e?.message ?? ''}`), onOutput: (_id, line) => printed.push(line) });
  try {
    const listens = await packageScript(
      dir.path,
      blobs,
      'listens',
      `import { createServer } from 'node:http';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${PRINT}\nleak(() => createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'));\n`,
    );
    await runtime.ensure('dlistens00000', listens, { LEAKY: SECRET });
    assert.ok(
      printed.some((l) => l === 'piece: ***'),
      `the server's lines arrived: ${printed.slice(0, 3).join(' | ')}`,
    );
    assert.ok(
      printed.some((l) => l.startsWith(`${'c'.repeat(1995)}***`)),
      'the line across the 2,000 cut is masked before it is cut',
    );

    const crashes = await packageScript(
      dir.path,
      blobs,
      'crashes',
      `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${PRINT}\nleak(() => process.exit(3));\n`,
    );
    const failed = await runtime.ensure('dcrashes00000', crashes, { LEAKY: SECRET }).then(
      () => undefined,
      (err: Error) => err,
    );
    assert.ok(failed instanceof Error, 'the crashing server does not start');
    assert.match(failed.message, /cannot use \*\*\*/, 'the start error carries the last output, masked');
    assert.deepEqual(leaks(failed.message), [], 'the start error');
  } finally {
    await runtime.close();
  }
  assert.deepEqual(leaks(printed.join('\n')), [], 'the lines the server printed');
  assert.deepEqual(leaks(logged.join('\n')), [], 'the runtime log');
});
