import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createRequestObserver, type ObservedRequest } from '../../src/access-log/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { blobFixture, listenEdge, makeDeployment, type EdgeFixture } from '../edge/helpers.js';

// The recorder's per-request fields, checked against what a client on one keep-alive
// connection really received: every entry's bytes must be exactly that response's bytes on the
// wire, whichever way the edge wrote it (pre-serialised small answer, head + body for a large
// one, a first answer from disk through ServerResponse, a 404), and the host read from the
// raw headers however the client spelled the name.

const DEPLOYMENT = 'drecorder001';
let fixture: EdgeFixture;
let edge: EdgeServer;
let port: number;
const entries: ObservedRequest[] = [];

before(async () => {
  fixture = await blobFixture();
  const { manifestHash } = await makeDeployment(fixture.blobs, {
    'index.html': `<h1>${'x'.repeat(2000)}</h1>`,
    'big.bin': { body: Buffer.alloc(300 * 1024, 7) },
  });
  const observer = createRequestObserver((e) => entries.push({ ...e }));
  ({ edge, port } = await listenEdge({ lookup: createMemoryLookup({ 'rec.localhost': { deploymentId: DEPLOYMENT, manifestHash } }), blobs: fixture.blobs, observer }));
});

after(async () => {
  await edge.close();
  await fixture.cleanup();
});

/** Send one request on `socket` and resolve with the number of bytes of its whole response (head + Content-Length body). */
function exchange(socket: Socket, head: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = got.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      const total = end + 4 + length;
      if (got.length < total) return;
      socket.off('data', onData);
      socket.off('error', reject);
      assert.equal(got.length, total, 'nothing beyond this response arrived before the next request');
      resolve({ status: Number(text.split(' ')[1]), bytes: total });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(head);
  });
}

test('each entry holds its own response bytes, status, host, path and client on one keep-alive connection', async () => {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const asked = [
    { host: 'Host', path: '/index.html' },
    { host: 'Host', path: '/index.html' },
    { host: 'host', path: '/big.bin' },
    { host: 'HOST', path: '/big.bin' },
    { host: 'Host', path: '/missing.txt' },
    { host: 'Host', path: '/index.html' },
  ];
  const received: { status: number; bytes: number }[] = [];
  try {
    for (const a of asked) received.push(await exchange(socket, `GET ${a.path} HTTP/1.1\r\n${a.host}: rec.localhost\r\nAccept: */*\r\n\r\n`));
  } finally {
    socket.destroy();
  }
  for (let i = 0; i < 100 && entries.length < asked.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(entries.length, asked.length);
  assert.deepEqual(
    received.map((r) => r.status),
    [200, 200, 200, 200, 404, 200],
  );
  assert.ok(received[2]!.bytes > 300 * 1024);
  for (const [i, e] of entries.entries()) {
    assert.equal(e.bytes, received[i]!.bytes, `bytes of response ${i} (${asked[i]!.path})`);
    assert.equal(e.status, received[i]!.status);
    assert.equal(e.method, 'GET');
    assert.equal(e.host, 'rec.localhost');
    assert.equal(e.path, asked[i]!.path);
    assert.equal(e.deploymentId, DEPLOYMENT);
    assert.equal(e.clientIp, '127.0.0.1');
    assert.ok(e.durationMs >= 0 && e.durationMs < 10_000);
    assert.ok(Math.abs(e.at - Date.now()) < 60_000);
  }
});
