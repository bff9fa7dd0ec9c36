import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { createRequestObserver, type ObservedRequest, type RequestObserver } from '../../src/access-log/index.js';
import { createEdgeServer, createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import type { LoadedCertificate } from '../../src/tls/certificates.js';
import type { TlsSource } from '../../src/tls/edge-source.js';
import { blobFixture, makeDeployment, type EdgeFixture } from '../edge/helpers.js';
import { makeTestCa, type TestCa } from '../tls/certs.js';

// Entries of answers over HTTPS. The HTTP/2 fast path (src/edge/h2-static.ts) answers a
// stream without the compatibility API's request and response, so it reports its entry
// itself: with the time the request took (not 0) and the time it arrived, like every other
// answer's entry. Over HTTP/1.1 + TLS the raw fast path records its entry as it writes, while
// TLS may still hold the bytes: each entry must still count exactly its own response.

const DEPLOYMENT = 'dh2fast00001';
const body = `<h1>${'h2 '.repeat(500)}</h1>`;
let fixture: EdgeFixture;
let ca: TestCa;
let edge: EdgeServer;
let port: number;
const entries: ObservedRequest[] = [];
const fast: ObservedRequest[] = [];

before(async () => {
  fixture = await blobFixture();
  ca = await makeTestCa();
  const { manifestHash } = await makeDeployment(fixture.blobs, { 'index.html': body });
  const { certPem, keyPem } = await ca.issue(['*.h2.test']);
  const leaf = new X509Certificate(certPem);
  const cert: LoadedCertificate = {
    id: 'crt1',
    names: ['*.h2.test'],
    source: 'acme',
    certPem,
    keyPem,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    renewAt: null,
    renewFailures: 0,
    lastError: null,
  };
  const source: TlsSource = { generation: async () => 1, load: async () => ({ certificates: [cert], challenges: [] }) };
  const recorder = createRequestObserver((e) => entries.push({ ...e }));
  // which entries the fast path reported (the compatibility path reports through start/close)
  const observer: RequestObserver = {
    ...recorder,
    answered(e) {
      fast.push(e);
      recorder.answered(e);
    },
  };
  edge = createEdgeServer({
    lookup: createMemoryLookup({ 'www.h2.test': { deploymentId: DEPLOYMENT, manifestHash } }),
    blobs: fixture.blobs,
    observer,
    tls: { source, platformKey: randomBytes(32), pollMs: 1000 },
  });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  await edge.https!.ready;
  await new Promise<void>((resolve) => edge.https!.server.listen(0, '127.0.0.1', resolve));
  port = (edge.https!.server.address() as AddressInfo).port;
});

after(async () => {
  await edge.close();
  await fixture.cleanup();
});

function request(session: ClientHttp2Session, headers: Record<string, string>): Promise<{ status: number; etag: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/index.html', ':authority': 'www.h2.test', ...headers });
    let head: IncomingHttpHeaders = {};
    let bytes = 0;
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => resolve({ status: Number(head[':status']), etag: String(head.etag ?? ''), bytes }));
    req.on('error', reject);
    req.end();
  });
}

test('HTTP/2 fast-path entries have their duration, arrival time, bytes and status', async () => {
  const session = h2connect(`https://127.0.0.1:${port}`, { ca: ca.certPem, servername: 'www.h2.test' });
  const before = Date.now();
  try {
    // the first request looks the host up (compatibility path); the next ones take the fast path
    const first = await request(session, {});
    const second = await request(session, {});
    const revalidated = await request(session, { 'if-none-match': first.etag });
    assert.deepEqual([first.status, second.status, revalidated.status], [200, 200, 304]);
    assert.equal(second.bytes, Buffer.byteLength(body));
  } finally {
    session.close();
  }
  assert.equal(entries.length, 3);
  assert.equal(fast.length, 2, 'the second and third requests took the fast path');
  assert.deepEqual(
    fast.map((e) => [e.status, e.bytes, e.cache]),
    [
      [200, Buffer.byteLength(body), 'hit'],
      [304, 0, 'revalidated'],
    ],
  );
  for (const e of fast) {
    assert.ok(e.durationMs > 0 && e.durationMs < 10_000, `duration ${e.durationMs} ms`);
    assert.ok(e.at >= before - 1 && e.at <= Date.now(), `arrived at ${e.at}, between ${before} and now`);
    assert.equal(e.method, 'GET');
    assert.equal(e.host, 'www.h2.test');
    assert.equal(e.path, '/index.html');
    assert.equal(e.deploymentId, DEPLOYMENT);
    assert.equal(e.clientIp, '127.0.0.1');
  }
});

/** One request on `socket`; resolves with the status and the bytes of the whole response (head + Content-Length body). */
function exchange(socket: TLSSocket, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = got.subarray(0, end).toString('latin1');
      const total = end + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (got.length < total) return;
      socket.off('data', onData);
      resolve({ status: Number(text.split(' ')[1]), bytes: total });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: www.h2.test\r\n\r\n`);
  });
}

test('HTTP/1.1 over TLS: each entry on a keep-alive connection counts exactly its own response', async () => {
  entries.length = 0;
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'www.h2.test', ca: ca.certPem, ALPNProtocols: ['http/1.1'] });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  const received: { status: number; bytes: number }[] = [];
  try {
    for (const path of ['/index.html', '/index.html', '/missing', '/index.html']) received.push(await exchange(socket, path));
  } finally {
    socket.destroy();
  }
  for (let i = 0; i < 100 && entries.length < received.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(
    received.map((r) => r.status),
    [200, 200, 404, 200],
  );
  assert.deepEqual(
    entries.map((e) => [e.status, e.bytes]),
    received.map((r) => [r.status, r.bytes]),
  );
  assert.ok(entries.every((e) => e.durationMs > 0 && e.host === 'www.h2.test' && e.deploymentId === DEPLOYMENT));
});
