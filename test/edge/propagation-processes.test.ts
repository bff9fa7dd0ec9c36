import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createDeployment, moveAlias, PRODUCTION } from '../../src/deployments/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { loadSecretKey, SecretBox } from '../../src/secrets.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';
import { freshPostgres, pausePostgres, postgresSkip, resumePostgres } from '../helpers/postgres.js';
import { edgeGet, startSlipwayProcess, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { makeDeployment } from './helpers.js';

// Two edge nodes as `slipway up --roles edge` processes over one PostgreSQL: each edge process
// LISTENs, announces itself, and lives through a database restart.
test('edge processes on PostgreSQL: LISTEN, presence, readiness, and the next move after a restart', { skip: postgresSkip }, async () => {
  const tmp = await tempDir('slipway-pg-edges-');
  const database = await freshPostgres();
  const dataDir = join(tmp.path, 'data');
  const edges: RunningSlipway[] = [];
  let store: Store | undefined;
  let paused = false;
  try {
    // one after another: the first makes the data dir's key
    for (let i = 0; i < 2; i++) edges.push(await startSlipwayProcess(dataDir, ['--roles', 'edge', '--edge-workers', '1', '--database-url', database.url]));
    store = await Store.openPostgres(database.url, { poolSize: 2, migrate: false });
    const s = store;
    const box = new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')));
    const blobs = new LocalBlobStore(join(dataDir, 'blobs'));
    const { project } = await s.tx((db) => createProject(db, box, { name: 'site', repoUrl: 'file:///nowhere' }));
    const ready = async (text: string) => {
      const d = await s.tx((db) => createDeployment(db, new Queue(s, { leaseMs: 30_000 }), box, { project, sha: randomBytes(20).toString('hex'), branch: 'main', trigger: 'api', target: 'preview' }));
      const { manifestHash } = await makeDeployment(blobs, { 'index.html': text });
      await s.db.updateTable('deployments').set({ status: 'ready', manifest_hash: manifestHash }).where('id', '=', d.id).execute();
      return d.id;
    };
    const one = await ready('one');
    const two = await ready('two');
    const servedEverywhere = (text: string, timeoutMs = 10_000) =>
      Promise.all(edges.map((e) => waitFor(`${e.edgePort} to serve ${text}`, async () => ((await edgeGet(e.edgePort, 'site.localhost', '/')).text === text ? true : undefined), timeoutMs)));

    for (const e of edges) await waitFor('the edge to be ready', async () => ((await edgeGet(e.edgePort, 'any.example', '/.well-known/slipway/readyz')).status === 200 ? true : undefined), 10_000);
    // each edge process holds its own LISTEN connection and has announced itself
    await waitFor('two LISTEN connections', async () => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where query = 'LISTEN slipway_changes'`.execute(s.db);
      return rows[0]!.n === 2 ? true : undefined;
    });
    assert.equal((await s.db.selectFrom('edges').select('id').execute()).length, 2);

    await s.tx((db) => moveAlias(db, project.id, PRODUCTION, one));
    await servedEverywhere('one');
    // a request that raced the move's notification has its host looked up once more in the
    // background; let that finish, so each edge knows the host before the database goes
    await new Promise((r) => setTimeout(r, 500));
    await servedEverywhere('one');

    await pausePostgres();
    paused = true;
    for (const e of edges) assert.equal((await edgeGet(e.edgePort, 'site.localhost', '/')).text, 'one', 'serving what it knows while the database is down');
    await resumePostgres();
    paused = false;
    await waitFor(
      'the store to answer again',
      () =>
        s
          .tx((db) => moveAlias(db, project.id, PRODUCTION, two))
          .then(
            () => true,
            () => undefined,
          ),
      20_000,
    );
    await servedEverywhere('two', 20_000);
  } catch (error) {
    // what the edge processes said is what explains a failure here
    throw new Error(`${String(error)}\n${edges.map((e, i) => `--- edge ${i}:\n${e.output()}`).join('\n')}`, { cause: error });
  } finally {
    await store?.close();
    for (const e of edges) await e.stop();
    if (paused) await resumePostgres();
    await database.drop();
    await tmp.cleanup();
  }
});
