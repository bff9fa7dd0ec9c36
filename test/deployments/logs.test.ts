import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createDeployment } from '../../src/deployments/index.js';
import { appendLogs, readLogs, tailLogs } from '../../src/deployments/logs.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

// Build log lines as the worker stores them and the log stream reads them back, on both stores.
forEachBackend('build log lines', (backend) => {
  let opened: OpenedStore;
  let deploymentId: string;
  before(async () => {
    opened = await backend.open();
    const box = new SecretBox(randomBytes(32));
    const queue = new Queue(opened.store, { leaseMs: 30_000 });
    const { project } = await opened.store.tx((db) => createProject(db, box, { name: 'logs', repoUrl: 'file:///nowhere' }));
    deploymentId = (await opened.store.tx((db) => createDeployment(db, queue, box, { project, sha: 'b'.repeat(40), branch: null, trigger: 'api', target: 'production' }))).id;
  });
  after(async () => opened?.cleanup());

  test('lines are numbered on across appends, read after a cursor, tailed; a NUL byte does not fail the append', async () => {
    const many = Array.from({ length: 450 }, (_, i) => ({ text: `line ${i + 1}`, at: 1_700_000_000_000 + i }));
    await opened.store.tx((db) => appendLogs(db, deploymentId, many));
    await opened.store.tx((db) => appendLogs(db, deploymentId, [{ text: 'binary \0 output', at: 1_800_000_000_000 }]));
    const after440 = await readLogs(opened.store.db, deploymentId, 440);
    assert.equal(after440.length, 11);
    assert.deepEqual(after440[0], { n: 441, at: 1_700_000_000_440, text: 'line 441' });
    const last = after440.at(-1)!;
    assert.equal(last.n, 451);
    assert.equal(last.at, 1_800_000_000_000);
    // PostgreSQL text cannot hold U+0000: it is kept as U+FFFD there
    assert.equal(last.text, backend.name === 'postgres' ? 'binary \uFFFD output' : 'binary \0 output');
    assert.deepEqual(await tailLogs(opened.store.db, deploymentId, 2), ['line 450', last.text]);
  });
});
