import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime, ServerStartError, type RuntimeOptions } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { get, isAlive, packageApp, sleep, startFront, until, type Target } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let bundle: ServerBundle;
let counter = 0;

before(async () => {
  tmp = await tempDir('slipway-runtime-');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  bundle = await packageApp(tmp.path, blobs, 'app');
});
after(() => tmp.cleanup());

/** A runtime plus an edge stand-in in front of it, aimed at `target` (which a test may change). */
async function setup(opts: Partial<RuntimeOptions> = {}, env: Record<string, string> = { APP_VERSION: 'A' }) {
  const lines: string[] = [];
  const runtime = new Runtime({ blobs, dir: join(tmp.path, `runtime-${++counter}`), log: () => {}, onOutput: (id, line) => lines.push(`${id}: ${line}`), ...opts });
  const current: { target: Target } = { target: { id: `dpl-${counter}`, bundle, env } };
  const front = await startFront(runtime, () => current.target);
  return {
    runtime,
    front,
    current,
    lines,
    id: current.target.id,
    /** pids the fixture reported at start-up */
    pids: () => lines.flatMap((l) => /starting \S+ pid (\d+)/.exec(l)?.[1] ?? []).map(Number),
    close: async () => {
      await front.close();
      await runtime.close();
    },
  };
}

describe('Runtime', () => {
  it('materializes, starts and proxies over real sockets with a clean environment', async () => {
    process.env.SLIPWAY_TEST_PLATFORM_SECRET = 'do-not-leak';
    const t = await setup({ memoryLimitMb: 96 });
    try {
      const res = await get(t.front.port, '/');
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body) as { version: string; cwd: string; execArgv: string[]; env: Record<string, string>; data: string };
      assert.equal(body.version, 'A');
      assert.equal(body.data, 'fixture data\n');
      assert.equal(body.cwd, join(tmp.path, `runtime-${counter}`, t.id));
      assert.deepEqual(body.execArgv, ['--max-old-space-size=96']);
      // localhost, not 127.0.0.1: Next.js' middleware rewrites need it (see server-process.ts); it still listens on IPv4 loopback
      assert.equal(body.env.HOSTNAME, 'localhost');
      assert.match(body.env.NODE_OPTIONS ?? '', /--dns-result-order=ipv4first/);
      assert.equal(body.env.NODE_ENV, 'production');
      assert.equal(body.env.APP_VERSION, 'A');
      assert.match(body.env.PORT ?? '', /^\d+$/);
      assert.equal(body.env.SLIPWAY_TEST_PLATFORM_SECRET, undefined);
      assert.ok(!Object.keys(body.env).some((k) => k.startsWith('NODE_TEST') || k === 'HOME'), Object.keys(body.env).join(' '));

      const posted = await get(t.front.port, '/echo', { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } });
      assert.equal(posted.body, 'A got 100000 bytes');
      const [status] = t.runtime.status();
      assert.equal(status?.deploymentId, t.id);
      assert.equal(status?.state, 'running');
      assert.equal(status?.inFlight, 0);
      assert.equal(status?.pinned, false);
      assert.ok(isAlive(status?.pid ?? 0));
    } finally {
      delete process.env.SLIPWAY_TEST_PLATFORM_SECRET;
      await t.close();
    }
  });

  it('forwards host and x-forwarded-* headers, drops hop-by-hop ones, keeps repeated response headers', async () => {
    const t = await setup();
    try {
      const res = await get(t.front.port, '/headers', {
        headers: {
          host: 'shop.example.test',
          'x-forwarded-for': '203.0.113.7',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.test',
          connection: 'keep-alive, x-private',
          'x-private': '1',
          'x-app': 'yes',
        },
      });
      const seen = JSON.parse(res.body) as Record<string, string>;
      assert.equal(seen.host, 'shop.example.test');
      assert.equal(seen['x-forwarded-host'], 'shop.example.test');
      assert.equal(seen['x-forwarded-proto'], 'http');
      assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
      assert.equal(seen['x-forwarded-port'], String(t.front.port));
      assert.equal(seen['x-app'], 'yes');
      assert.equal(seen['x-private'], undefined);
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    } finally {
      await t.close();
    }
  });

  it('starts one process for concurrent ensures', async () => {
    const t = await setup();
    try {
      const targets = await Promise.all(Array.from({ length: 20 }, () => t.runtime.ensure(t.id, bundle, { APP_VERSION: 'A' })));
      assert.equal(new Set(targets.map((x) => x.port)).size, 1);
      assert.equal(t.pids().length, 1);
      assert.equal(t.runtime.status().length, 1);
    } finally {
      await t.close();
    }
  });

  it('rejects a server that exits at start with its output, and one that never listens at the timeout', async () => {
    const t = await setup({ startTimeoutMs: 600 });
    try {
      const exits = await t.runtime.ensure('dpl-exits', bundle, { APP_MODE: 'exit-at-start' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(exits instanceof ServerStartError);
      assert.match(exits.message, /exited during start-up \(3\)/);
      assert.match(exits.message, /DATABASE_URL is not set/);

      const started = Date.now();
      const silent = await t.runtime.ensure('dpl-silent', bundle, { APP_MODE: 'never-listen' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(silent instanceof ServerStartError);
      assert.match(silent.message, /did not answer HTTP on its PORT within 600 ms/);
      assert.match(silent.message, /waiting forever without listening/);
      assert.ok(Date.now() - started < 5000);
      for (const pid of t.pids()) assert.ok(!isAlive(pid), `pid ${pid} is gone`);
      assert.deepEqual(t.runtime.status(), []);

      // a slow start within the timeout is fine
      const slow = await t.runtime.ensure('dpl-slow', bundle, { APP_MODE: 'slow-start' });
      assert.equal((await get(slow.port, '/version')).status, 200);
    } finally {
      await t.close();
    }
  });

  it('answers 502 at a crash, quickly, also to requests in flight; the next request starts it again', async () => {
    const t = await setup();
    try {
      const first = JSON.parse((await get(t.front.port, '/')).body) as { pid: number };
      const hanging = get(t.front.port, '/hang');
      const streaming = get(t.front.port, '/slow').then(
        () => 'whole',
        () => 'cut off',
      );
      await until(() => t.runtime.status()[0]?.inFlight === 2, 2000, 'two in flight');
      // the stream's head and first chunk are out (a request whose head is not out gets a 502 page)
      await sleep(400);
      const started = Date.now();
      const crashed = await get(t.front.port, '/crash');
      assert.equal(crashed.status, 502);
      assert.match(crashed.headers['content-type'] ?? '', /text\/html/);
      assert.match(crashed.body, /502 Bad Gateway/);
      assert.equal((await hanging).status, 502);
      assert.equal(await streaming, 'cut off');
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
      assert.ok(!isAlive(first.pid));

      const again = JSON.parse((await get(t.front.port, '/')).body) as { pid: number; version: string };
      assert.equal(again.version, 'A');
      assert.notEqual(again.pid, first.pid);
    } finally {
      await t.close();
    }
  });

  it('restarts a pinned deployment at once after a crash', async () => {
    const t = await setup();
    try {
      t.runtime.pin(new Set([t.id]));
      await get(t.front.port, '/');
      const before = t.runtime.status()[0]?.pid;
      assert.equal((await get(t.front.port, '/crash')).status, 502);
      await until(() => t.runtime.status()[0]?.state === 'running' && t.runtime.status()[0]?.pid !== before, 3000, 'a restart');
      assert.equal(t.pids().length, 2);
      assert.equal(t.runtime.status()[0]?.pinned, true);
    } finally {
      await t.close();
    }
  });

  it('stops an idle unpinned deployment and cold-starts it on the next request; a pinned one stays', async () => {
    const t = await setup({ idleMs: 300 });
    try {
      t.runtime.pin(new Set(['dpl-pinned']));
      await t.runtime.ensure('dpl-pinned', bundle, {});
      const first = JSON.parse((await get(t.front.port, '/')).body) as { pid: number };
      await until(() => !t.runtime.status().some((s) => s.deploymentId === t.id), 3000, 'the idle stop');
      await until(() => !isAlive(first.pid), 3000, 'the process to exit');
      assert.deepEqual(
        t.runtime.status().map((s) => s.deploymentId),
        ['dpl-pinned'],
      );

      const started = Date.now();
      const again = JSON.parse((await get(t.front.port, '/')).body) as { pid: number };
      assert.notEqual(again.pid, first.pid);
      assert.ok(Date.now() - started < 3000);
    } finally {
      await t.close();
    }
  });

  it('drains: a streaming response in flight completes whole, then the process stops', async () => {
    const t = await setup();
    try {
      const { pid } = JSON.parse((await get(t.front.port, '/')).body) as { pid: number };
      const streaming = get(t.front.port, '/slow');
      await until(() => t.runtime.status()[0]?.inFlight === 1, 2000, 'the stream');
      await sleep(300);
      const started = Date.now();
      let drained = false;
      const draining = t.runtime.drain(t.id, 10_000).then(() => (drained = true));
      // while it drains, a new ensure gets a fresh process
      const fresh = await t.runtime.ensure(t.id, bundle, { APP_VERSION: 'A' });
      assert.ok(isAlive(pid));
      assert.equal(drained, false);
      const res = await streaming;
      assert.equal(res.body, `${Array.from({ length: 10 }, (_, i) => `A chunk ${i}\n`).join('')}A done\n`);
      await draining;
      assert.ok(Date.now() - started >= 1000, 'drain waited for the stream');
      assert.ok(!isAlive(pid));
      assert.equal(t.runtime.status().length, 1);
      assert.equal(t.runtime.status()[0]?.port, fresh.port);

      // past the grace, the drain stops the process anyway
      const cut = get(t.front.port, '/slow').then(
        () => 'whole',
        () => 'cut off',
      );
      await until(() => t.runtime.status()[0]?.inFlight === 1, 2000, 'the second stream');
      await sleep(400);
      const second = Date.now();
      await t.runtime.drain(t.id, 200);
      assert.ok(Date.now() - second < 1500);
      assert.equal(await cut, 'cut off');
    } finally {
      await t.close();
    }
  });

  it('answers 504 when response headers take longer than requestTimeoutMs', async () => {
    const t = await setup({ requestTimeoutMs: 300 });
    try {
      await get(t.front.port, '/');
      const started = Date.now();
      const res = await get(t.front.port, '/hang');
      assert.equal(res.status, 504);
      assert.match(res.body, /504 Gateway Timeout/);
      assert.ok(Date.now() - started < 1500);
      // a slow stream whose headers came in time is not cut
      assert.equal((await get(t.front.port, '/slow?every=50')).body.endsWith('A done\n'), true);
      await until(() => t.runtime.status()[0]?.inFlight === 0, 1000, 'no request in flight');
    } finally {
      await t.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    const t = await setup();
    try {
      await get(t.front.port, '/');
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: t.front.port, path: '/slow', agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', reject);
        req.end();
      });
      await until(() => t.runtime.status()[0]?.inFlight === 0, 1000, 'the proxied request to end');
    } finally {
      await t.close();
    }
  });

  it('relays upgraded connections (WebSocket-style), counted in flight, and relays a declined upgrade', async () => {
    const t = await setup();
    try {
      await get(t.front.port, '/');
      const { socket, headers } = await new Promise<{ socket: Duplex; headers: IncomingHttpHeaders }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: t.front.port, path: '/shout', headers: { connection: 'Upgrade', upgrade: 'shout' } });
        req.on('upgrade', (res, s) => resolve({ socket: s, headers: res.headers }));
        req.on('error', reject);
        req.end();
      });
      assert.equal(headers['x-forwarded-for-seen'], '127.0.0.1');
      const echoed = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
      socket.write('hello');
      assert.equal(await echoed, 'HELLO');
      assert.equal(t.runtime.status()[0]?.inFlight, 1);
      socket.destroy();
      await until(() => t.runtime.status()[0]?.inFlight === 0, 1000, 'the upgraded connection to end');

      const declined = await get(t.front.port, '/other', { headers: { connection: 'Upgrade', upgrade: 'shout' } });
      assert.equal(declined.status, 400);
      assert.equal(declined.body, 'no');
    } finally {
      await t.close();
    }
  });

  it('close() leaves no process behind, not even one starting or draining', async () => {
    const t = await setup({ startTimeoutMs: 5000 });
    await get(t.front.port, '/');
    t.runtime.pin(new Set(['dpl-b']));
    await t.runtime.ensure('dpl-b', bundle, {});
    const streaming = get(t.front.port, '/slow').catch(() => 'cut off');
    await until(() => t.runtime.status().some((s) => s.inFlight === 1), 2000, 'the stream');
    void t.runtime.drain(t.id, 60_000);
    const starting = t.runtime.ensure('dpl-c', bundle, { APP_MODE: 'slow-start' }).catch((err: Error) => err);
    await sleep(50);
    await t.close();
    await starting;
    await streaming;
    for (const pid of t.pids()) assert.ok(!isAlive(pid), `pid ${pid} is gone`);
    assert.deepEqual(await childrenOf(process.pid), []);
    assert.deepEqual(t.runtime.status(), []);
    await assert.rejects(t.runtime.ensure('dpl-d', bundle, {}), /closed/);
  });
});

/** pids whose parent is `pid`, from /proc */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // the command name is in parentheses and may hold spaces: fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid) out.push(Number(name));
  }
  return out;
}
