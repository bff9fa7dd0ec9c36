import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import {
  createLogWriter,
  createRequestObserver,
  fastEntry,
  getDrain,
  insertAccessEntries,
  readAccessEntries,
  readServerLines,
  setDrain,
  startLogDrains,
  type ObservedRequest,
} from '../../src/access-log/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Store } from '../../src/store/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

// The store side of the access log on both backends: batches land per project (never in
// another's), each project keeps its newest N rows, and a drain delivers new rows in batches to
// an HTTP receiver that refuses the first try.

const box = new SecretBox(randomBytes(32));

async function addProject(store: Store, name: string, deploymentId: string): Promise<string> {
  const id = `p_${name}`;
  const now = Date.now();
  await store.db
    .insertInto('projects')
    .values({ id, name, repo_url: 'file:///nowhere', production_branch: 'main', webhook_secret: 'x', created_at: now } as never)
    .execute();
  await store.db
    .insertInto('deployments')
    .values({ id: deploymentId, project_id: id, seq: 1, status: 'ready', target: 'production', trigger: 'api', branch: 'main', commit_sha: 'a'.repeat(40), attempts: 0, created_at: now } as never)
    .execute();
  return id;
}

const request = (deploymentId: string, path: string, status = 200): ObservedRequest => ({
  at: Date.now(),
  method: 'GET',
  host: `${deploymentId}.localhost`,
  path,
  status,
  bytes: 100,
  durationMs: 1.5,
  deploymentId,
  clientIp: '127.0.0.1',
  cache: 'hit',
});

forEachBackend('access log store', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let alpha: string;
  let beta: string;
  before(async () => {
    opened = await backend.open();
    store = opened.store;
    alpha = await addProject(store, 'alpha', 'dalpha000001');
    beta = await addProject(store, 'beta', 'dbeta0000001');
  });
  after(async () => opened?.cleanup());

  it("writes batches per project, never into another project's log, and keeps the newest N per project", async () => {
    const metrics = createMetrics();
    const writer = createLogWriter({ store, metrics, keepPerProject: 150, flushMs: 60_000, maxRowsPerFlush: 1000 });
    for (let i = 0; i < 200; i++) writer.request(request('dalpha000001', `/a/${i}`));
    for (let i = 0; i < 5; i++) writer.request(request('dbeta0000001', `/b/${i}`, 404));
    // a request that reached no deployment is counted, not logged
    writer.request(request('', '/unknown-host'));
    writer.serverLine('dbeta0000001', 'listening on 3000');
    writer.serverLine('dunknown0001', 'a deployment the store does not know');
    await writer.close();

    const a = await readAccessEntries(store.db, alpha, { since: 0, limit: 1000 });
    assert.equal(a.length, 150, 'trimmed to its bound');
    assert.deepEqual(
      a.map((e) => e.path),
      Array.from({ length: 150 }, (_, i) => `/a/${i + 50}`),
      'the oldest went first',
    );
    assert.ok(a.every((e) => e.deploymentId === 'dalpha000001' && e.status === 200 && e.bytes === 100 && e.durationMs === 1.5));
    const b = await readAccessEntries(store.db, beta, { since: 0, limit: 1000 });
    assert.deepEqual(
      b.map((e) => [e.path, e.status]),
      Array.from({ length: 5 }, (_, i) => [`/b/${i}`, 404]),
    );
    assert.deepEqual(
      (await readServerLines(store.db, beta, { since: 0, limit: 10 })).map((l) => l.text),
      ['listening on 3000'],
    );
    assert.deepEqual(await readServerLines(store.db, alpha, { since: 0, limit: 10 }), []);
    // the cursor pages forward
    const page = await readAccessEntries(store.db, alpha, { since: a[9]!.id, limit: 5 });
    assert.deepEqual(
      page.map((e) => e.path),
      ['/a/60', '/a/61', '/a/62', '/a/63', '/a/64'],
    );

    const counted = await metrics.edgeRequests.get();
    const value = (labels: Record<string, string>) =>
      counted.values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
    assert.equal(value({ project: 'alpha', status_class: '2xx', cache: 'hit' }), 200);
    assert.equal(value({ project: 'beta', status_class: '4xx' }), 5);
    assert.equal(value({ project: '' }), 1);
  });

  it('stores every field of a batch larger than one statement exactly, long values cut to their bound', async () => {
    const project = await addProject(store, 'fields', 'dfields00001');
    // 1,203 rows: two full statements of 500 and a shorter one
    const entries = Array.from({ length: 1203 }, (_, i) => ({
      at: 1_700_000_000_000 + i,
      method: i % 2 === 0 ? 'GET' : 'HEAD',
      host: `h${i}.example.test`,
      path: i === 7 ? `/${'p'.repeat(3000)}` : `/f/${i}?q=${i}`,
      status: 200 + (i % 5),
      bytes: 10_000_000_000 + i,
      durationMs: i / 7,
      deploymentId: 'dfields00001',
      clientIp: `10.0.${i % 256}.${i % 7}`,
    }));
    await insertAccessEntries(store.db, project, entries);
    const stored = await readAccessEntries(store.db, project, { since: 0, limit: 2000 });
    assert.equal(stored.length, entries.length);
    for (const [i, e] of entries.entries()) {
      const { id, ...fields } = stored[i]!;
      assert.ok(id > (stored[i - 1]?.id ?? 0), 'oldest first');
      const expected = { ...e, durationMs: Math.round(e.durationMs * 1000) / 1000, path: i === 7 ? `${e.path.slice(0, 2048)}…` : e.path };
      assert.deepEqual(fields, expected, `row ${i}`);
    }
  });

  it('the writer stores every field of its entries exactly (on SQLite through its log thread), long values cut to their bound', async () => {
    const project = await addProject(store, 'written', 'dwritten0001');
    const writer = createLogWriter({ store, flushMs: 60_000, keepPerProject: 10_000 });
    // text of every width, so the packed strings must come apart where they were joined
    const paths = ['/plain', '/caf\u00e9/\u6f22\u5b57?q=\u{1f600}', `/${'p'.repeat(3000)}`, '/', '/x%20y'];
    const sent = paths.map((path, i) => ({
      at: 1_700_000_000_000 + i,
      method: i === 1 ? 'HEAD' : 'GET',
      host: i === 1 ? `${'h'.repeat(300)}.test` : 'w\u00fcrth.test',
      path,
      status: [200, 304, 404, 500, 206][i]!,
      bytes: 10_000_000_000 + i,
      durationMs: i / 7,
      deploymentId: 'dwritten0001',
      clientIp: i === 2 ? '2001:db8::1' : '10.0.0.1',
      cache: 'hit' as const,
    }));
    for (const e of sent) writer.request(e);
    writer.serverLine('dwritten0001', `boot ${'\u00e9'.repeat(5000)}`);
    await writer.close();
    const stored = await readAccessEntries(store.db, project, { since: 0, limit: 100 });
    assert.deepEqual(
      stored.map(({ id: _, ...fields }) => fields),
      sent.map(({ cache: _, ...e }) => ({
        ...e,
        durationMs: Math.round(e.durationMs * 1000) / 1000,
        host: e.host.length > 255 ? `${e.host.slice(0, 255)}\u2026` : e.host,
        path: e.path.length > 2048 ? `${e.path.slice(0, 2048)}\u2026` : e.path,
      })),
    );
    const [line] = await readServerLines(store.db, project, { since: 0, limit: 10 });
    assert.equal(line?.text, `${`boot ${'\u00e9'.repeat(5000)}`.slice(0, 4096)}\u2026`);
  });

  it("under load the fast paths' requests are all counted, and only the sample the log keeps becomes entries", async () => {
    const project = await addProject(store, 'sampled', 'dsampled0001');
    const metrics = createMetrics();
    const writer = createLogWriter({ store, metrics, flushMs: 60_000, maxRowsPerFlush: 10 });
    const observer = createRequestObserver(writer);
    const built: string[] = [];
    // as http1-fast.ts and h2-static.ts do: count first, build the entry only when asked
    const answer = (path: string, status: number) => {
      if (!observer.fastAnswered('dsampled0001', status, 1000, status === 304 ? 'revalidated' : 'hit')) return;
      built.push(path);
      observer.answered(fastEntry(performance.now(), 'GET', 'sampled.test', path, status, 1000, 'dsampled0001', '10.0.0.2', status === 304 ? 'revalidated' : 'hit'));
    };
    // a first second of 40 requests sets the sample's stride to 4 for the next
    for (let i = 0; i < 40; i++) answer(`/first/${i}`, 200);
    await writer.flush();
    assert.equal(built.length, 10, 'the first batch keeps its first 10, the most a batch stores');
    for (let i = 0; i < 40; i++) answer(`/second/${i}`, i % 10 === 0 ? 304 : 200);
    await writer.close();
    assert.deepEqual(
      built.slice(10),
      [3, 7, 11, 15, 19, 23, 27, 31, 35, 39].map((i) => `/second/${i}`),
      'then every 4th request: an even sample',
    );
    const rows = await readAccessEntries(store.db, project, { since: 0, limit: 100 });
    assert.deepEqual(
      rows.map((r) => r.path),
      built,
    );
    const text = await metrics.registry.metrics();
    const count = (labels: string) => Number(new RegExp(`slipway_edge_requests_total\\{[^}]*${labels}[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
    assert.equal(count('status_class="2xx",cache="hit"'), 76, 'every 200 is counted, kept or not');
    assert.equal(count('status_class="3xx",cache="revalidated"'), 4);
    assert.match(text, /slipway_access_log_dropped_total 60/);
  });

  it('a project deleted while its entries wait does not cost the other projects theirs', async () => {
    const gone = await addProject(store, 'gone', 'dgone0000001');
    const writer = createLogWriter({ store, flushMs: 60_000 });
    writer.request(request('dgone0000001', '/warm'));
    await writer.flush();
    writer.request(request('dgone0000001', '/late'));
    writer.request(request('dalpha000001', '/still-kept'));
    await store.db.deleteFrom('projects').where('id', '=', gone).execute();
    await writer.close();
    const a = await readAccessEntries(store.db, alpha, { since: 0, limit: 1000 });
    assert.equal(a.at(-1)?.path, '/still-kept');
    assert.deepEqual(await readAccessEntries(store.db, gone, { since: 0, limit: 10 }), [], 'its log went with it');
  });

  it('a drain sends new rows in batches, again after a refused try, and moves on only on success', async () => {
    const received: { project: string; access: { path: string }[]; server: { text: string }[] }[] = [];
    let tries = 0;
    const receiver: Server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        tries++;
        if (tries === 1) {
          res.writeHead(503).end('not yet');
          return;
        }
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ingest?token=s3cret`;
    try {
      const view = await setDrain(store.db, box, beta, url);
      assert.equal(view.url, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ingest?***`, 'the token is masked');
      const stored = await store.db.selectFrom('log_drains').select('url_enc').where('project_id', '=', beta).executeTakeFirstOrThrow();
      assert.ok(!stored.url_enc.includes('s3cret'), 'the URL is encrypted at rest');

      // only what comes after the drain was set is sent: 600 entries, more than one batch
      const writer = createLogWriter({ store, keepPerProject: 10_000, flushMs: 60_000 });
      for (let i = 0; i < 600; i++) writer.request(request('dbeta0000001', `/new/${i}`));
      writer.serverLine('dbeta0000001', 'GET /new handled');
      await writer.close();

      const drains = startLogDrains({ store, box, everyMs: 50, retryBaseMs: 100 });
      try {
        const deadline = Date.now() + 15_000;
        while (received.flatMap((b) => b.access).length < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await drains.stop();
      }
      assert.ok(tries >= 3, `the refused batch was sent again (${tries} tries)`);
      assert.equal(received[0]!.project, 'beta');
      assert.equal(received[0]!.access.length, 500, 'batches of 500');
      const paths = received.flatMap((b) => b.access.map((e) => e.path));
      assert.deepEqual(
        paths,
        Array.from({ length: 600 }, (_, i) => `/new/${i}`),
        'every new entry once, in order, none from before the drain',
      );
      assert.deepEqual(
        received.flatMap((b) => b.server.map((l) => l.text)),
        ['GET /new handled'],
      );
      const after = await getDrain(store.db, box, beta);
      assert.equal(after?.failures, 0);
      assert.equal(after?.lastError, null);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
