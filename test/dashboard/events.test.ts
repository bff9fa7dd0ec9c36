import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { TOKEN, startSlipwayProcess, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// GET /api/v1/projects/<p>/events over a real socket: what the dashboard's live list reads.
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let repo: Awaited<ReturnType<typeof makeRepo>>;

before(async () => {
  dir = await tempDir('slipway-events-');
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>one</h1>' }, 'one');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '1']);
  assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'ev', repoUrl: repo.url })).status, 201);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

interface SseEvent {
  type: string;
  data: any;
}

/** Open the stream and collect its events until `until` says enough (or the time runs out). */
async function collect(path: string, until: (events: SseEvent[]) => boolean, act: () => Promise<void>, timeoutMs = 90_000): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const res = await fetch(`${slipway.apiUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' }, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let acted = false;
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type !== undefined && data !== undefined) events.push({ type, data: JSON.parse(data) });
      }
      // act once the stream is open (its hello arrived), so nothing happens before we listen
      if (!acted && events.some((e) => e.type === 'hello')) {
        acted = true;
        await act();
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

let first: string;

test('a new deployment appears on the stream and each status it goes through follows, to ready and production', async () => {
  const events = await collect(
    '/api/v1/projects/ev/events',
    (es) => es.some((e) => e.type === 'deployment' && e.data.status === 'ready') && es.some((e) => e.type === 'production'),
    async () => {
      const { status, body } = await slipway.api('POST', '/api/v1/projects/ev/deployments', {});
      assert.equal(status, 202);
      first = body.id;
    },
  );
  assert.deepEqual(events[0], { type: 'hello', data: { project: 'ev', productionDeploymentId: null } });
  const statuses = events
    .filter((e) => e.type === 'deployment')
    .map((e) => {
      assert.equal(e.data.id, first);
      return e.data.status;
    });
  assert.equal(statuses.at(-1), 'ready');
  assert.ok(statuses.includes('queued') || statuses.includes('building'), statuses.join(','));
  // an event is a change, not a tick of the poll: a build of a few seconds makes a handful
  assert.ok(statuses.length <= 8, statuses.join(','));
  const ready = events.find((e) => e.type === 'deployment' && e.data.status === 'ready')!;
  assert.equal(ready.data.commit.message, 'one');
  assert.equal(events.find((e) => e.type === 'production')!.data.deploymentId, first);
});

test('a rollback is a production event, and a stream does not see other projects', async () => {
  await repo.commit({ 'index.html': '<h1>two</h1>' }, 'two');
  await repo.push();
  const second = (await slipway.api('POST', '/api/v1/projects/ev/deployments', {})).body.id;
  await waitForStatus(slipway, second, ['ready']);
  assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'other', repoUrl: repo.url })).status, 201);
  const events = await collect(
    '/api/v1/projects/ev/events',
    (es) => es.some((e) => e.type === 'production'),
    async () => {
      await slipway.api('POST', '/api/v1/projects/other/deployments', {});
      assert.equal((await slipway.api('POST', '/api/v1/projects/ev/rollback', { deploymentId: first })).status, 200);
    },
    30_000,
  );
  assert.equal(events[0]!.data.productionDeploymentId, second);
  assert.deepEqual(events.find((e) => e.type === 'production')!.data, { deploymentId: first });
  assert.equal(events.filter((e) => e.type === 'deployment' && e.data.project !== 'ev').length, 0);
});

test('without Accept: text/event-stream the answer is JSON: production and what is under way', async () => {
  const r = await slipway.api('GET', '/api/v1/projects/ev/events');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { project: 'ev', productionDeploymentId: first, active: [] });
});

test('the stream needs a token and a project that exists', async () => {
  assert.equal((await fetch(`${slipway.apiUrl}/api/v1/projects/ev/events`)).status, 401);
  const missing = await slipway.api('GET', '/api/v1/projects/nope/events');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'PROJECT_NOT_FOUND');
});
