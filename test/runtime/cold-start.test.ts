import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { get, packageApp, sleep, startFront } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let bundle: ServerBundle;

before(async () => {
  tmp = await tempDir('slipway-runtime-cold-');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  bundle = await packageApp(tmp.path, blobs, 'app');
});
after(() => tmp.cleanup());

const RUNS = 7;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

it('a cold start through the runtime takes at most 1.2x bare `node server.mjs` to the first 200', async (t) => {
  const runtime = new Runtime({ blobs, dir: join(tmp.path, 'runtime'), log: () => {} });
  let n = 0;
  const front = await startFront(runtime, () => ({ id: `dpl-${n}`, bundle, env: { APP_VERSION: 'A' } }));
  const bare: number[] = [];
  const through: number[] = [];
  try {
    const dir = await runtime.materialize('reference', bundle);
    for (let i = 0; i < RUNS; i += 1) {
      // bare: spawn and poll GET / every 5 ms until a 200
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      let started = performance.now();
      const child = spawn(process.execPath, ['server.mjs'], { cwd: dir, env: { PORT: String(port), HOSTNAME: '127.0.0.1' }, stdio: 'ignore' });
      for (;;) {
        const res = await get(port, '/').catch(() => undefined);
        if (res?.status === 200) break;
        await sleep(5);
      }
      bare.push(performance.now() - started);
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));

      // runtime: the first request of a deployment (bundle materialized, as the deploy step does)
      n += 1;
      await runtime.materialize(`dpl-${n}`, bundle);
      started = performance.now();
      assert.equal((await get(front.port, '/')).status, 200);
      through.push(performance.now() - started);
      await runtime.drain(`dpl-${n}`, 0);
    }
  } finally {
    await front.close();
    await runtime.close();
  }
  const ratio = median(through) / median(bare);
  t.diagnostic(`cold start to first 200, median of ${RUNS}: bare ${median(bare).toFixed(1)} ms, through the runtime ${median(through).toFixed(1)} ms (${ratio.toFixed(2)}x)`);
  // 10 ms of slack for timer noise on a busy machine
  assert.ok(median(through) <= 1.2 * median(bare) + 10, `bare ${bare.map(Math.round).join(' ')}; runtime ${through.map(Math.round).join(' ')}`);
});
