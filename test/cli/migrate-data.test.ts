import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3BlobStore } from '../../src/blobs/s3.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { freshPostgres, postgresSkip } from '../helpers/postgres.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';
import { edgeGet, startSlipwayProcess, TOKEN, type RunningSlipway } from '../helpers/slipway.js';
import { json, runCli } from './run-cli.js';

// `slipway migrate-data`: an installation that grew on one machine (SQLite + the blob folder)
// moves to PostgreSQL + S3 without losing a project, a deployment, a secret or a blob, and the
// moved installation keeps working (new rows, the same platform key).

describe('migrate-data: SQLite + folder into PostgreSQL + S3', { skip: postgresSkip }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let s3: RunningS3;
  let database: { url: string; drop: () => Promise<void> };
  let slipway: RunningSlipway | undefined;
  let env: Record<string, string>;
  const data = () => join(dir.path, 'data');
  const cli = (args: string[], input?: string) => runCli(args, { cwd: dir.path, env, ...(input === undefined ? {} : { input }) });
  let blobUrl: string;

  before(async () => {
    dir = await tempDir('slipway-migrate-data-');
    s3 = await startS3rver();
    useS3rverCredentials();
    database = await freshPostgres({ empty: true });
    blobUrl = `s3://${s3.bucket}/moved/?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcePathStyle=1`;
    const repo = await makeRepo(join(dir.path, 'repo'));
    slipway = await startSlipwayProcess(data());
    env = { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'config'), AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'moved', repoUrl: repo.url })).status, 201);
    const site = join(dir.path, 'dist');
    await mkdir(join(site, 'assets'), { recursive: true });
    await writeFile(join(site, 'index.html'), '<h1>moved home</h1>\n');
    await writeFile(join(site, 'assets', 'app.js'), `console.log(${JSON.stringify('x'.repeat(5000))});\n`);
    const deployed = await cli(['deploy', '--prebuilt', site, '--project', 'moved', '--prod', '--json']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const set = await cli(['env', 'set', 'API_SECRET', '--project', 'moved'], 's3cr3t-value');
    assert.equal(set.code, 0, set.stderr);
    await slipway.stop();
    slipway = undefined;
  });

  after(async () => {
    await slipway?.stop();
    await database?.drop();
    await s3?.cleanup();
    await dir?.cleanup();
  });

  test('every row and blob is copied; Slipway on PostgreSQL serves the site, reads the secret and makes new rows', async () => {
    const moved = await cli(['migrate-data', '--data-dir', data(), '--database-url', database.url, '--blob-url', blobUrl, '--json']);
    assert.equal(moved.code, 0, moved.stderr);
    const result = json(moved);
    const rows = Object.fromEntries(result.tables.map((t: { table: string; rows: number }) => [t.table, t.rows]));
    assert.equal(rows.projects, 1);
    assert.ok(rows.deployments >= 1 && rows.teams >= 1 && rows.meta >= 3, JSON.stringify(rows));

    // the blobs: every file of the folder, now in the bucket
    const local: string[] = [];
    for (const fan of await readdir(join(data(), 'blobs'))) if (/^[0-9a-f]{2}$/.test(fan)) local.push(...(await readdir(join(data(), 'blobs', fan))));
    assert.equal(result.blobs.blobs, local.length);
    assert.deepEqual(result.blobs.damaged, []);
    const bucket = new S3BlobStore({ bucket: s3.bucket, prefix: 'moved/', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    for (const hash of local) assert.equal(await bucket.has(hash), true, `blob ${hash} is in the bucket`);
    const one = local[0]!;
    assert.deepEqual(await bucket.get(one), await readFile(join(data(), 'blobs', one.slice(0, 2), one)));

    // the moved installation on a new machine: an empty data dir, the state in PostgreSQL, the
    // blobs in the bucket, and the platform key copied over
    slipway = await startSlipwayProcess(join(dir.path, 'new-machine'), ['--database-url', database.url, '--blob-url', blobUrl, '--secret-key-file', join(data(), 'secret.key')], {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    const home = await edgeGet(slipway.edgePort, 'moved.localhost', '/');
    assert.equal(home.status, 200);
    assert.equal(home.text, '<h1>moved home</h1>\n');
    const values = await slipway.api('GET', '/api/v1/projects/moved/env/values?environment=production');
    assert.equal(values.status, 200, JSON.stringify(values.body));
    assert.match(JSON.stringify(values.body), /s3cr3t-value/, 'the secret decrypts with the same platform key');
    // auto-numbered tables go on after the copied ids (the audit trail gets rows for these)
    const repo = await makeRepo(join(dir.path, 'repo2'));
    assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'after-move', repoUrl: repo.url })).status, 201);
    const audit = await slipway.api('GET', '/api/v1/teams/default/audit');
    assert.equal(audit.status, 200);
    assert.ok(
      audit.body.events.some((e: { action: string }) => e.action === 'env.set'),
      'the audit trail from before the move is there',
    );
    await slipway.stop();
    slipway = undefined;
  });

  test('a database that is in use is refused: two installations are never mixed', async () => {
    const again = await cli(['migrate-data', '--data-dir', data(), '--database-url', database.url, '--json']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already holds projects/);
    assert.match(again.stderr, /new, empty database/);
  });
});
