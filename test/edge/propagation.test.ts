import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { createDeployment, getDeployment, moveAlias, PRODUCTION, promote, recordLiveAfterMove, rollback, warmForMove } from '../../src/deployments/index.js';
import { createEdgeServer, type EdgeServer } from '../../src/edge/index.js';
import { announceEdge, type Presence } from '../../src/edge/presence.js';
import type { ServerGateway } from '../../src/edge/types.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { SecretBox } from '../../src/secrets.js';
import { listenForChanges, Store, type ChangeFeed } from '../../src/store/index.js';
import { saveCertificate } from '../../src/tls/certificates.js';
import { selfSignedCertificate } from '../../src/tls/default-certificate.js';
import { createStoreTlsSource } from '../../src/tls/edge-source.js';
import { recordLive, warmEdges } from '../../src/worker/go-live.js';
import { forEachBackend } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';
import { freshPostgres, pausePostgres, postgresSkip, resumePostgres } from '../helpers/postgres.js';
import { get, makeDeployment } from './helpers.js';

const box = new SecretBox(randomBytes(32));

/** A ready deployment of `projectId` whose index.html says `text`; `ssr`: its manifest names a server bundle too. */
async function readyDeployment(store: Store, blobs: LocalBlobStore, projectId: string, text: string, ssr = false): Promise<string> {
  const project = await store.db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirstOrThrow();
  const d = await store.tx((db) =>
    createDeployment(db, new Queue(store, { leaseMs: 30_000 }), box, { project, sha: randomBytes(20).toString('hex'), branch: 'main', trigger: 'api', target: 'preview' }),
  );
  let { manifestHash, manifest } = await makeDeployment(blobs, { 'index.html': text });
  if (ssr) {
    const json = Buffer.from(JSON.stringify({ ...manifest, server: { entry: 'server.js', files: {} } }));
    manifestHash = sha256(json);
    await blobs.put(manifestHash, json);
  }
  await store.db.updateTable('deployments').set({ status: 'ready', manifest_hash: manifestHash }).where('id', '=', d.id).execute();
  return d.id;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/**
 * A gateway whose servers are real HTTP servers in this process, answering "ssr <id>": what the
 * warm step starts is what a request then reaches. `started` counts starts per deployment.
 */
function inProcessGateway(): ServerGateway & { started: Map<string, number>; close(): Promise<void> } {
  const servers = new Map<string, Promise<{ port: number; server: Server }>>();
  const started = new Map<string, number>();
  const ensure = (id: string) => {
    let s = servers.get(id);
    if (s === undefined) {
      started.set(id, (started.get(id) ?? 0) + 1);
      const server = createServer((_req, res) => res.end(`ssr ${id}`));
      s = listen(server).then((port) => ({ port, server }));
      servers.set(id, s);
    }
    return s.then(({ port }) => ({ port }));
  };
  return {
    started,
    ensure,
    proxy: (req, res, _id, target) =>
      new Promise((resolve) => {
        const up = request({ host: '127.0.0.1', port: target.port, path: req.url, method: req.method, agent: false }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res).on('finish', resolve);
        });
        up.on('error', () => {
          res.destroy();
          resolve();
        });
        req.pipe(up);
      }),
    upgrade: async (_req, socket) => {
      socket.destroy();
    },
    pin: () => undefined,
    drain: async () => undefined,
    async close() {
      for (const s of servers.values()) (await s).server.close();
    },
  };
}

test('PostgreSQL: a move reaches the edge by NOTIFY, and the edge survives a database restart', { skip: postgresSkip }, async () => {
  const tmp = await tempDir('slipway-notify-');
  const database = await freshPostgres();
  const blobs = new LocalBlobStore(tmp.path);
  const writer = await Store.openPostgres(database.url, { poolSize: 2, migrate: false });
  const reader = await Store.openPostgres(database.url, { poolSize: 2, migrate: false });
  const { project } = await writer.tx((db) => createProject(db, box, { name: 'site', repoUrl: 'file:///nowhere' }));
  const one = await readyDeployment(writer, blobs, project.id, 'one');
  const two = await readyDeployment(writer, blobs, project.id, 'two');
  await writer.tx((db) => moveAlias(db, project.id, PRODUCTION, one));

  const logs: string[] = [];
  const feed: ChangeFeed = listenForChanges(database.url, { minBackoffMs: 200, maxBackoffMs: 1000, log: (m) => logs.push(m) });
  // a safety-net poll of a minute: within this test only a notification can bring a move
  const edge: EdgeServer = createEdgeServer({ lookup: createStoreLookup(reader, 'localhost'), blobs, changes: feed, pollMs: 60_000, log: () => undefined });
  try {
    const port = await listen(edge.server);
    await until('the LISTEN connection', async () => (feed.connected() ? true : undefined));
    await until('routes loaded', async () => (edge.ready() ? true : undefined));
    assert.equal((await get(port, 'site.localhost', '/')).text, 'one');

    await writer.tx((db) => moveAlias(db, project.id, PRODUCTION, two));
    await until('the move to two', async () => ((await get(port, 'site.localhost', '/')).text === 'two' ? true : undefined));

    await pausePostgres();
    await until('the feed to notice', async () => (feed.connected() ? undefined : true));
    // the database is gone: the edge keeps serving what it knows, and says it is still ready
    assert.equal((await get(port, 'site.localhost', '/')).text, 'two');
    assert.equal((await get(port, 'anything.example', '/.well-known/slipway/readyz')).status, 200);

    await resumePostgres();
    // moved at once, likely before the feed is back: the re-read on reconnecting brings it
    await until(
      'the writer to reconnect',
      async () =>
        await writer
          .tx((db) => moveAlias(db, project.id, PRODUCTION, one))
          .then(
            () => true,
            () => undefined,
          ),
      20_000,
    );
    await until('the move after the restart', async () => ((await get(port, 'site.localhost', '/')).text === 'one' ? true : undefined), 10_000);
    await until('the LISTEN connection again', async () => (feed.connected() ? true : undefined), 10_000);
    // and the next move arrives by notification again
    await writer.tx((db) => moveAlias(db, project.id, PRODUCTION, two));
    await until('the next move', async () => ((await get(port, 'site.localhost', '/')).text === 'two' ? true : undefined));
    assert.ok(
      logs.some((m) => m.startsWith('lost the LISTEN connection')),
      logs.join('\n'),
    );
  } finally {
    await edge.close();
    await feed.close();
    await reader.close();
    await writer.close();
    await database.drop();
    await tmp.cleanup();
  }
});

/** The subjectAltName of the certificate an HTTPS port presents for `servername`. */
function presented(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const names = socket.getPeerCertificate().subjectaltname ?? '';
      socket.destroy();
      resolve(names);
    });
    socket.on('error', reject);
  });
}

test('PostgreSQL: a stored certificate reaches the edge’s HTTPS by NOTIFY', { skip: postgresSkip }, async () => {
  const tmp = await tempDir('slipway-notify-tls-');
  const database = await freshPostgres();
  const store = await Store.openPostgres(database.url, { poolSize: 2, migrate: false });
  const feed = listenForChanges(database.url, { log: () => undefined });
  // both polls a minute apart: only the notification can bring the certificate within the test
  const tls = { source: createStoreTlsSource(store.db, box), platformKey: randomBytes(32), pollMs: 60_000 };
  const edge = createEdgeServer({ lookup: createStoreLookup(store, 'localhost'), blobs: new LocalBlobStore(tmp.path), changes: feed, pollMs: 60_000, tls, log: () => undefined });
  try {
    await edge.https!.ready;
    const port = await new Promise<number>((resolve) => edge.https!.server.listen(0, '127.0.0.1', () => resolve((edge.https!.server.address() as AddressInfo).port)));
    await until('the LISTEN connection', async () => (feed.connected() ? true : undefined));
    assert.doesNotMatch(await presented(port, 'secure.example'), /secure\.example/);
    await store.tx((db) => saveCertificate(db, box, { ...selfSignedCertificate(['secure.example'], 30), source: 'operator', renewAt: null }));
    await until('the new certificate', async () => ((await presented(port, 'secure.example')).includes('DNS:secure.example') ? true : undefined));
  } finally {
    await edge.close();
    await feed.close();
    await store.close();
    await database.drop();
    await tmp.cleanup();
  }
});

forEachBackend('ready means live', (backend) => {
  let opened: Awaited<ReturnType<typeof backend.open>>;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let blobs: LocalBlobStore;
  let projectId: string;
  const edges: { edge: EdgeServer; presence: Presence; port: number; gateway: ReturnType<typeof inProcessGateway>; store: Store }[] = [];

  before(async () => {
    opened = await backend.open();
    tmp = await tempDir('slipway-live-');
    blobs = new LocalBlobStore(tmp.path);
    projectId = (await opened.store.tx((db) => createProject(db, box, { name: 'app', repoUrl: 'file:///nowhere' }))).project.id;
    // two edge processes, each with its own connection, as separate processes would have
    for (let i = 0; i < 2; i++) {
      const store = await opened.another();
      const gateway = inProcessGateway();
      const presence = await announceEdge({ store, log: () => undefined });
      const edge = createEdgeServer({ lookup: createStoreLookup(store, 'localhost'), blobs, servers: gateway, pollMs: 10, served: (g) => presence.served(g), log: () => undefined });
      presence.answerWarmRequests((site) => edge.warm(site));
      edges.push({ edge, presence, gateway, store, port: await listen(edge.server) });
    }
  });

  after(async () => {
    for (const e of edges) {
      await e.presence.close();
      await e.edge.close();
      await e.gateway.close();
    }
    await opened?.cleanup();
    await tmp?.cleanup();
  });

  test('every live edge starts an SSR server before the move, and live_at is set once both serve it', async () => {
    const ssr = await readyDeployment(opened.store, blobs, projectId, 'static part', true);
    const warm = await warmEdges(opened.store, { id: ssr, manifestHash: (await getDeployment(opened.store.db, ssr)).manifest_hash! }, 5000);
    assert.deepEqual({ edges: warm.edges, warmed: warm.warmed, late: warm.late }, { edges: 2, warmed: 2, late: 0 });
    for (const e of edges) assert.equal(e.gateway.started.get(ssr), 1, 'each edge started the server before the alias moved');

    await opened.store.tx(async (db) => {
      await db.deleteFrom('warm_requests').where('deployment_id', '=', ssr).execute();
      await moveAlias(db, projectId, PRODUCTION, ssr);
    });
    const liveAt = await recordLive(opened.store, ssr, 5000);
    assert.ok(liveAt !== undefined);
    assert.equal((await getDeployment(opened.store.db, ssr)).live_at, liveAt);
    // live means served: both edges answer from the warmed server, which did not start twice
    for (const e of edges) {
      assert.equal((await get(e.port, 'app.localhost', '/api')).text, `ssr ${ssr}`);
      assert.equal(e.gateway.started.get(ssr), 1);
    }
  });

  test('an edge that stopped does not hold a move back; one that never answers only until the bounded wait', async () => {
    const stat = await readyDeployment(opened.store, blobs, projectId, 'static v2');
    // a third edge announces itself and then never answers warm requests nor switches
    const silent = await announceEdge({ store: await opened.another(), log: () => undefined });
    try {
      // long enough for the two running edges on a busy machine; the silent one holds it to the end
      const warm = await warmEdges(opened.store, { id: stat, manifestHash: (await getDeployment(opened.store.db, stat)).manifest_hash! }, 2000);
      assert.deepEqual({ edges: warm.edges, warmed: warm.warmed, late: warm.late }, { edges: 3, warmed: 2, late: 1 });
      assert.ok(warm.waitedMs >= 2000);
      await opened.store.tx((db) => moveAlias(db, projectId, PRODUCTION, stat));
      assert.equal(await recordLive(opened.store, stat, 300), undefined, 'not live while a live edge serves an older generation');
      assert.equal((await getDeployment(opened.store.db, stat)).live_at, null);
    } finally {
      await silent.close();
    }
    // gone from the table: the same wait now ends as soon as the two running edges serve it
    const liveAt = await recordLive(opened.store, stat, 5000);
    assert.ok(liveAt !== undefined);
    for (const e of edges) assert.equal((await get(e.port, 'app.localhost', '/')).text, 'static v2');
  });

  test('promote and rollback: an SSR deployment warms on both edges before the move, and liveAt is of the move', async () => {
    const project = await opened.store.db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirstOrThrow();
    const stat = await readyDeployment(opened.store, blobs, projectId, 'static v3');
    const ssr = await readyDeployment(opened.store, blobs, projectId, 'ssr part', true);
    assert.equal(await warmForMove(opened.store, blobs, await getDeployment(opened.store.db, stat)), undefined, 'a static deployment has nothing to warm');

    const promoted = await promote(opened.store, stat);
    assert.equal(promoted.live_at, null);
    const first = await recordLiveAfterMove(opened.store, stat);
    assert.ok(first !== undefined);
    for (const e of edges) assert.equal((await get(e.port, 'app.localhost', '/')).text, 'static v3');

    // its server never ran on these edges: it starts on both before production moves to it
    const warm = await warmForMove(opened.store, blobs, await getDeployment(opened.store.db, ssr));
    assert.deepEqual({ edges: warm?.edges, warmed: warm?.warmed, late: warm?.late }, { edges: 2, warmed: 2, late: 0 });
    for (const e of edges) assert.equal(e.gateway.started.get(ssr), 1, 'each edge started the server before the alias moved');
    const back = await rollback(opened.store, project, ssr);
    assert.equal(back.live_at, null);
    assert.equal(await opened.store.db.selectFrom('warm_requests').select('deployment_id').where('deployment_id', '=', ssr).executeTakeFirst(), undefined, 'the move ends the warm-up');
    assert.ok((await recordLiveAfterMove(opened.store, ssr)) !== undefined);
    for (const e of edges) {
      assert.equal((await get(e.port, 'app.localhost', '/api')).text, `ssr ${ssr}`);
      assert.equal(e.gateway.started.get(ssr), 1, 'the warmed server took the traffic');
    }

    // promoted back: not live until both edges serve this move, though it was live before
    await promote(opened.store, stat);
    assert.equal((await getDeployment(opened.store.db, stat)).live_at, null);
    const again = await recordLiveAfterMove(opened.store, stat);
    assert.ok(again !== undefined && again > first);
    assert.equal((await getDeployment(opened.store.db, stat)).live_at, again);
    for (const e of edges) assert.equal((await get(e.port, 'app.localhost', '/')).text, 'static v3');
  });
});
