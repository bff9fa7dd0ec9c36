import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { commentMarker, gitHostStatus } from '../../src/githost/index.js';
import { startReporterFixture, until } from './fixture.js';

// GitLab: a commit status on the built sha and one note on the merge request, through a local
// stand-in that accepts only what GitLab's REST API documents for these calls
// (https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit, .../api/notes/).

interface Seen {
  method: string;
  path: string;
  token: string | undefined;
  body: any;
}

async function startGitlab() {
  const seen: Seen[] = [];
  const errors: string[] = [];
  const notes = new Map<number, string>();
  let nextId = 500;
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const path = (req.url ?? '').split('?')[0]!;
    seen.push({ method: req.method!, path, token: req.headers['private-token'] as string | undefined, body });
    const send = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.headers['private-token'] !== 'glpat-test') return send(401, { message: '401 Unauthorized' });
    let m = /^\/api\/v4\/projects\/acme%2Fsite\/statuses\/([0-9a-f]{40})$/.exec(path);
    if (m !== null && req.method === 'POST') {
      if (!['pending', 'running', 'success', 'failed', 'canceled'].includes(body?.state)) errors.push(`bad state ${body?.state}`);
      return send(201, { id: nextId++, sha: m[1], status: body.state, name: body.name });
    }
    m = /^\/api\/v4\/projects\/acme%2Fsite\/merge_requests\/(\d+)\/notes(?:\/(\d+))?$/.exec(path);
    if (m !== null) {
      if (req.method === 'GET')
        return send(
          200,
          [...notes].map(([id, b]) => ({ id, body: b })),
        );
      if (typeof body?.body !== 'string') errors.push('a note needs a body');
      if (req.method === 'POST' && m[2] === undefined) {
        const id = nextId++;
        notes.set(id, body.body);
        return send(201, { id, body: body.body });
      }
      if (req.method === 'PUT' && m[2] !== undefined && notes.has(Number(m[2]))) {
        notes.set(Number(m[2]), body.body);
        return send(200, { id: Number(m[2]), body: body.body });
      }
    }
    errors.push(`unexpected ${req.method} ${path}`);
    send(404, { message: '404 Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, errors, notes, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a merge request on GitLab: commit statuses and one note, edited on the next push', async (t) => {
  const gitlab = await startGitlab();
  t.after(() => gitlab.close());
  const f = await startReporterFixture({ 'gitlab-token': 'glpat-test', 'gitlab-url': gitlab.url }, { repoUrl: 'https://gitlab.com/acme/site.git' });
  t.after(() => f.close());
  const d1 = await f.deploy({ sha: 'c'.repeat(40), pr: 4, provider: 'gitlab' });
  await f.setStatus(d1, 'building');
  await f.ready(d1, 'pr:4');
  await until(
    async () => (await gitHostStatus(f.store.db, d1))?.sent.includes('success') === true && (await gitHostStatus(f.store.db, d1))?.state === 'sent',
    () => JSON.stringify(gitlab.seen.map((s) => s.body?.state ?? s.method)),
  );
  const d2 = await f.deploy({ sha: 'd'.repeat(40), pr: 4, provider: 'gitlab' });
  await until(
    async () => (await gitHostStatus(f.store.db, d2))?.state === 'sent',
    () => 'second push reported',
  );
  assert.deepEqual(gitlab.errors, []);
  const statuses = gitlab.seen.filter((s) => s.path.includes('/statuses/'));
  assert.ok(statuses.some((s) => s.body.state === 'success' && s.body.target_url === 'http://pr-4--site.localhost:8080' && s.body.name === 'slipway/site/preview'));
  assert.equal(statuses.at(-1)!.body.state, 'pending');
  assert.ok(statuses.at(-1)!.path.endsWith('d'.repeat(40)));
  assert.equal(gitlab.notes.size, 1, 'one note on the merge request');
  const [note] = [...gitlab.notes.values()];
  assert.ok(note!.startsWith(commentMarker('site')));
  assert.match(note!, /`ddddddd`/);
  assert.equal(gitlab.seen.filter((s) => s.method === 'POST' && s.path.endsWith('/notes')).length, 1);
});
