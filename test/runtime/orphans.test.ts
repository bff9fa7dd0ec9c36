import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { get, packageApp, sleep } from './helpers.js';

// A sandboxed server dies with the process that runs it, even when that process is SIGKILLed
// and gets no chance to stop it (bwrap --die-with-parent): no orphan keeps a port or memory.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let bundle: ServerBundle;
before(async () => {
  tmp = await tempDir();
  bundle = await packageApp(tmp.path, new LocalBlobStore(join(tmp.path, 'blobs')), 'app');
});
after(() => tmp.cleanup());

test('servers of a SIGKILLed edge process do not outlive it', async () => {
  const gateway = pathToFileURL(join(repoRoot, 'dist', 'src', 'runtime', 'index.js')).href;
  const blobs = pathToFileURL(join(repoRoot, 'dist', 'src', 'blobs', 'index.js')).href;
  const script = `
    const { createRuntimeGateway } = await import(${JSON.stringify(gateway)});
    const { LocalBlobStore } = await import(${JSON.stringify(blobs)});
    const { gateway: g } = createRuntimeGateway(new LocalBlobStore(${JSON.stringify(join(tmp.path, 'blobs'))}), ${JSON.stringify(tmp.path)}, { memoryMb: 0, requestTimeoutMs: 5000, idleMs: 60000 });
    const { host, port } = await g.ensure('dorphan', ${JSON.stringify(bundle)});
    console.log('PORT ' + host + ' ' + port);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [host, port] = await new Promise<[string, number]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /PORT (\S+) (\d+)/.exec(out);
      if (m) resolve([m[1]!, Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`the runtime process exited (${code}) before its server started`)));
  });
  assert.equal((await get(port, '/', { host })).status, 200, 'the server runs');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    alive = await get(port, '/', { host }).then(
      () => true,
      () => false,
    );
    if (alive) await sleep(50);
  }
  assert.equal(alive, false, 'the server stopped with its parent');
});
