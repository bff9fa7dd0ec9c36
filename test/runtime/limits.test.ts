import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime, rssLimitMb, type RuntimeOptions } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { get, isAlive, packageScript, sleep, startFront, until, type Target } from './helpers.js';

// A server of its own: answers with its pid and one variable; /alloc keeps allocating (outside
// the V8 heap, as Buffers) without ever answering; /hang never answers.
const SERVER = `
import { createServer } from 'node:http';
const held = [];
const boot = Math.random().toString(36).slice(2); // pids repeat inside the sandbox's pid namespace
createServer((req, res) => {
  if (req.url === '/alloc') {
    const timer = setInterval(() => {
      held.push(Buffer.alloc(16 * 1024 * 1024, 1));
      if (held.length >= 64) clearInterval(timer); // 1 GiB at most, should the watch fail
    }, 20);
    return;
  }
  if (req.url === '/hang') return;
  res.end(JSON.stringify({ boot, greeting: process.env.GREETING ?? null }));
}).listen(Number(process.env.PORT), process.env.HOSTNAME, () => console.log('listening'));
`;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let bundle: ServerBundle;
let n = 0;

before(async () => {
  tmp = await tempDir('slipway-limits-');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  bundle = await packageScript(tmp.path, blobs, 'app', SERVER);
});
after(() => tmp.cleanup());

async function setup(opts: Partial<RuntimeOptions>, target: Omit<Target, 'id' | 'bundle'>) {
  const logs: string[] = [];
  const dir = join(tmp.path, `runtime-${++n}`);
  const runtime = new Runtime({ blobs, dir, log: (m) => logs.push(m), ...opts });
  const current: Target = { id: `dlim${n}`, bundle, ...target };
  const front = await startFront(runtime, () => current);
  return {
    runtime,
    front,
    logs,
    dir,
    current,
    close: async () => {
      await front.close();
      await runtime.close();
    },
  };
}

describe('per-deployment server limits', () => {
  it('documents the memory rule: heap limit plus a quarter, at least 96 MiB', () => {
    assert.equal(rssLimitMb(512), 640);
    assert.equal(rssLimitMb(64), 160);
    assert.equal(rssLimitMb(4096), 5120);
  });

  it('a sandboxed server gets a CPU share of its own among the servers, whose parent weighs one process per core', async (t) => {
    if (process.getuid?.() !== 0 || !existsSync('/sys/fs/cgroup/cpu/cpu.shares')) {
      t.skip('cgroup v1 cpu groups need root and the cpu controller');
      return;
    }
    const ts = await setup({ sandbox: { hidden: [join(tmp.path, 'blobs')] } }, { env: {}, limits: { cpuShares: 2048 } });
    try {
      assert.equal((await get(ts.front.port, '/')).status, 200);
      const pid = ts.runtime.status()[0]?.pid;
      assert.ok(pid !== undefined);
      const parent = '/sys/fs/cgroup/cpu/slipway-servers';
      let shares: string | undefined;
      for (const name of await readdir(parent)) {
        if (!/^\d+-\d+$/.test(name)) continue;
        const procs = await readFile(join(parent, name, 'cgroup.procs'), 'utf8').catch(() => '');
        if (procs.split('\n').includes(String(pid))) shares = (await readFile(join(parent, name, 'cpu.shares'), 'utf8')).trim();
      }
      assert.equal(shares, '2048', "the server is in a cpu group with its deployment's share");
      assert.equal((await readFile(join(parent, 'cpu.shares'), 'utf8')).trim(), String(1024 * availableParallelism()));
    } finally {
      await ts.close();
    }
  });

  it('kills a sandboxed server whose processes use more memory than its limit; the request gets a 502 and the next one a fresh server', async () => {
    // the platform's limit would allow anything; the deployment's own is 48 MiB of heap
    const t = await setup({ memoryCheckMs: 200, sandbox: { hidden: [join(tmp.path, 'blobs')] } }, { env: { GREETING: 'hi' }, limits: { memoryLimitMb: 48 } });
    try {
      const first = JSON.parse((await get(t.front.port, '/')).body) as { boot: string; greeting: string };
      assert.equal(first.greeting, 'hi');
      const started = Date.now();
      const res = await get(t.front.port, '/alloc');
      assert.equal(res.status, 502, res.body);
      assert.ok(Date.now() - started < 15_000, 'killed well before any timeout');
      // the memory watch kills it (and says so), or, when it allocates faster than the watch
      // looks, the sandbox's cgroup does a little above the same limit; either way the log says why
      await until(() => t.logs.some((l) => /was killed because (it used|it ran into its memory limit)/.test(l)), 5000, 'the exit to be logged');
      const killed = t.logs.find((l) => l.includes('killing the server'));
      if (killed !== undefined) assert.match(killed, new RegExp(`over its limit of ${rssLimitMb(48)} MiB \\(48 MiB heap`));
      else
        assert.ok(
          t.logs.some((l) => l.includes(`its memory limit of ${rssLimitMb(48) + 32} MiB`)),
          t.logs.join('\n'),
        );

      const again = await get(t.front.port, '/');
      assert.equal(again.status, 200);
      const second = JSON.parse(again.body) as { boot: string; greeting: string };
      assert.notEqual(second.boot, first.boot, 'a new process');
      assert.equal(second.greeting, 'hi');
      const [status] = t.runtime.status();
      assert.ok(status?.pid !== undefined && isAlive(status.pid));
    } finally {
      await t.close();
    }
  });

  it('leaves a server under its limit alone, and a deployment without a limit unwatched', async () => {
    const t = await setup({ memoryCheckMs: 100 }, { env: {}, limits: { memoryLimitMb: 256 } });
    try {
      const before = JSON.parse((await get(t.front.port, '/')).body).boot as string;
      await sleep(500);
      assert.equal(JSON.parse((await get(t.front.port, '/')).body).boot, before);
      assert.equal(
        t.logs.some((l) => l.includes('killing')),
        false,
      );
    } finally {
      await t.close();
    }
  });

  it("answers 504 at the deployment's own request timeout, not the platform's", async () => {
    const t = await setup({ requestTimeoutMs: 60_000 }, { env: {}, limits: { requestTimeoutMs: 400 } });
    try {
      await get(t.front.port, '/');
      const started = Date.now();
      const res = await get(t.front.port, '/hang');
      assert.equal(res.status, 504);
      const took = Date.now() - started;
      assert.ok(took >= 350 && took < 5000, `answered after ${took} ms`);
      assert.equal((await get(t.front.port, '/')).status, 200, 'the server itself is fine');
    } finally {
      await t.close();
    }
  });
});

describe('bundle collection', () => {
  it('removes bundles unused for a day and interrupted writes; keeps the running one', async () => {
    const t = await setup({}, { env: {} });
    try {
      await get(t.front.port, '/'); // materializes and starts dlim<n>
      const running = t.current.id;
      const old = new Date(Date.now() - 2 * 24 * 60 * 60_000);
      // another deployment's bundle nobody used for two days, one used an hour ago, a stale half-write
      for (const name of ['dold', 'drecent', '.tmp-dgone-abc']) {
        await mkdir(join(t.dir, name, 'node_modules'), { recursive: true });
        await writeFile(join(t.dir, name, 'server.mjs'), '');
      }
      await utimes(join(t.dir, 'dold'), old, old);
      await utimes(join(t.dir, '.tmp-dgone-abc'), old, old);
      const hourAgo = new Date(Date.now() - 60 * 60_000);
      await utimes(join(t.dir, 'drecent'), hourAgo, hourAgo);
      // the running server's folder looks old too: only its being in use keeps it
      await utimes(join(t.dir, running), old, old);

      const removed = await t.runtime.collectBundles(24 * 60 * 60_000);
      assert.deepEqual(removed, ['dold']);
      assert.deepEqual((await readdir(t.dir)).sort(), [running, 'drecent'].sort());
      assert.ok(Date.now() - (await stat(join(t.dir, running))).mtimeMs < 60_000, 'a bundle in use is marked as used');
      assert.equal((await get(t.front.port, '/')).status, 200, 'the running server still serves');

      // once stopped and unused long enough, it goes too; asked for again, it is written again
      await t.runtime.drain(running, 0);
      await utimes(join(t.dir, running), old, old);
      assert.deepEqual(await t.runtime.collectBundles(24 * 60 * 60_000), [running]);
      assert.equal((await get(t.front.port, '/')).status, 200, 'materialized again from the blob store');
    } finally {
      await t.close();
    }
  });

  it('collects at start-up when asked to', async () => {
    const dir = join(tmp.path, 'runtime-startup');
    await mkdir(join(dir, 'dstale'), { recursive: true });
    const old = new Date(Date.now() - 3 * 24 * 60 * 60_000);
    await utimes(join(dir, 'dstale'), old, old);
    const runtime = new Runtime({ blobs, dir, log: () => {}, collectBundles: { unusedMs: 24 * 60 * 60_000 } });
    try {
      await until(() => !existsSync(join(dir, 'dstale')), 5000, 'the stale bundle to go');
    } finally {
      await runtime.close();
    }
  });
});
