import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { get, isAlive, packageApp, sleep, startFront, type Target } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let bundle: ServerBundle;

before(async () => {
  tmp = await tempDir('slipway-runtime-zdt-');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  bundle = await packageApp(tmp.path, blobs, 'app');
});
after(() => tmp.cleanup());

it('moves the target ten times under load with no failed or mixed response (ensure new, switch, drain old)', async () => {
  const runtime = new Runtime({ blobs, dir: join(tmp.path, 'runtime'), log: () => {} });
  const targetFor = (n: number): Target => ({ id: `dpl-${n}`, bundle, env: { APP_VERSION: n % 2 === 0 ? `A${n}` : `B${n}` } });
  let current = targetFor(0);
  runtime.pin(new Set([current.id]));
  await runtime.ensure(current.id, current.bundle, current.env);
  const front = await startFront(runtime, () => current);
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });

  const failures: string[] = [];
  const seen = new Map<string, number>();
  let done = false;
  let requests = 0;
  const worker = async (w: number) => {
    for (let i = 0; !done; i += 1) {
      // mostly short answers, some ~200 ms streams that a drain has to wait for
      const path = (i + w) % 5 === 0 ? '/slow?every=20' : '/version';
      try {
        const res = await get(front.port, path, { agent });
        requests += 1;
        const version = /^([AB]\d+)/.exec(res.body)?.[1];
        const whole =
          version !== undefined &&
          (path === '/version'
            ? res.body === `${version}:${version.repeat(1000)}:${version}`
            : res.body === `${Array.from({ length: 10 }, (_, n) => `${version} chunk ${n}\n`).join('')}${version} done\n`);
        if (res.status !== 200 || !whole) failures.push(`${path}: ${res.status} ${res.body.slice(0, 200)}`);
        else seen.set(version, (seen.get(version) ?? 0) + 1);
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  };
  const load = Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));

  const pids: number[] = [];
  try {
    for (let n = 1; n <= 10; n += 1) {
      await sleep(150);
      const next = targetFor(n);
      await runtime.ensure(next.id, next.bundle, next.env);
      const previous = current;
      pids.push(runtime.status().find((s) => s.deploymentId === previous.id)?.pid ?? 0);
      current = next;
      runtime.pin(new Set([next.id]));
      await runtime.drain(previous.id, 10_000);
    }
    await sleep(150);
  } finally {
    done = true;
    await load;
    agent.destroy();
    await front.close();
    await runtime.close();
  }

  assert.deepEqual(failures, []);
  assert.ok(requests > 200, `${requests} requests`);
  // every version served something, and each drained process is gone
  assert.equal(seen.size, 11, JSON.stringify([...seen]));
  for (const pid of pids) assert.ok(pid > 0 && !isAlive(pid));
});
