import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEdgeCluster } from '../../src/edge/index.js';
import { blobFixture, get, makeDeployment } from './helpers.js';
import { CONFIG_ENV } from './cluster-worker.js';

const workerModule = fileURLToPath(new URL('./cluster-worker.js', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  return condition();
}

it('runs N workers on one port that serve the same site, replaces a dead one, and leaves no process on close', async (t) => {
  const fixture = await blobFixture();
  t.after(fixture.cleanup);
  const site = await makeDeployment(fixture.blobs, { 'index.html': '<h1>clustered</h1>' });
  const configFile = join(fixture.blobRoot, 'edge-config.json');
  await writeFile(configFile, JSON.stringify({ blobRoot: fixture.blobRoot, hosts: { 'c.localhost': { deploymentId: 'dpl_c', manifestHash: site.manifestHash } } }));

  const edge = await startEdgeCluster({ workers: 2, port: 0, host: '127.0.0.1', workerModule, env: { [CONFIG_ENV]: configFile }, log: () => {} });
  let closed = false;
  t.after(async () => {
    if (!closed) await edge.close();
  });
  assert.ok(edge.port > 0);
  const pids = edge.pids();
  assert.equal(pids.length, 2);

  // many fresh connections: both workers take some (SCHED_NONE leaves the choice to the kernel,
  // so only the answers are checked, not the split)
  const replies = await Promise.all(Array.from({ length: 20 }, () => get(edge.port, 'c.localhost', '/')));
  for (const reply of replies) {
    assert.equal(reply.status, 200);
    assert.equal(reply.text, '<h1>clustered</h1>');
    assert.equal(reply.headers['x-slipway-deployment'], 'dpl_c');
  }

  // a worker that dies is replaced and the port keeps answering
  const victim = pids[0] as number;
  process.kill(victim, 'SIGKILL');
  assert.ok(await waitFor(() => edge.pids().length === 2 && !edge.pids().includes(victim), 5000), 'a replacement worker started');
  assert.equal((await get(edge.port, 'c.localhost', '/')).status, 200);

  const all = [...pids, ...edge.pids()];
  await edge.close();
  closed = true;
  assert.deepEqual(edge.pids(), []);
  assert.ok(await waitFor(() => all.every((pid) => !isAlive(pid)), 2000), 'every worker process has exited');
});

it('rejects, leaving no process, when a worker exits before listening', async () => {
  const missing = fileURLToPath(new URL('./no-such-worker-module.js', import.meta.url));
  await assert.rejects(startEdgeCluster({ workers: 2, port: 0, host: '127.0.0.1', workerModule: missing, log: () => {}, stopTimeoutMs: 2000 }), /exited before listening/);
});
