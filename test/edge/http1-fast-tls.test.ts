import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createEdgeServer, createMemoryLookup, type EdgeOptions, type EdgeServer } from '../../src/edge/index.js';
import type { LoadedCertificate } from '../../src/tls/certificates.js';
import { DEFAULT_CERTIFICATE_NAME, selfSignedCertificate } from '../../src/tls/default-certificate.js';
import type { TlsSource } from '../../src/tls/edge-source.js';
import { makeTestCa, type TestCa } from '../tls/certs.js';
import { h2get } from '../tls/clients.js';
import { exchange, pathRecorder, statusLines, withoutDate } from './http1-fast-helpers.js';
import { blobFixture, makeDeployment, type EdgeFixture } from './helpers.js';

// The HTTP/1.1 fast path over TLS (HTTP/1.1 by ALPN, or no ALPN): the same bytes as node:http's
// path, HSTS in the head where the host has it, and the HTTPS gate's answers left to node:http.

interface TlsEdge {
  edge: EdgeServer;
  httpPort: number;
  port: number;
}

describe('edge HTTP/1.1 fast path over TLS', () => {
  let fixture: EdgeFixture;
  let ca: TestCa;
  let fast: TlsEdge;
  let plain: TlsEdge;
  const { observer, seen } = pathRecorder();
  let etag: string;

  async function listenTls(opts: EdgeOptions): Promise<TlsEdge> {
    const edge = createEdgeServer(opts);
    await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
    await edge.https!.ready;
    await new Promise<void>((resolve) => edge.https!.server.listen(0, '127.0.0.1', resolve));
    return { edge, httpPort: (edge.server.address() as AddressInfo).port, port: (edge.https!.server.address() as AddressInfo).port };
  }

  // a host no certificate covers gets the default one, which the client cannot verify
  const over = (port: number, servername: string, alpn: string[] | undefined) => () =>
    tlsConnect({ host: '127.0.0.1', port, servername, ca: ca.certPem, ALPNProtocols: alpn, rejectUnauthorized: servername !== 'nocert.test' });
  async function both(servername: string, request: string, alpn: string[] | undefined = ['http/1.1'], end = true): Promise<{ fast: Buffer; plain: Buffer }> {
    const plainBytes = await exchange(over(plain.port, servername, alpn), [request], { end });
    seen.length = 0;
    return { fast: await exchange(over(fast.port, servername, alpn), [request], { end }), plain: plainBytes };
  }

  before(async () => {
    fixture = await blobFixture();
    ca = await makeTestCa();
    const site = await makeDeployment(fixture.blobs, { 'index.html': '<!doctype html><p>over TLS</p>', 'a.txt': 'A'.repeat(100), 'big.bin': 'x'.repeat(100_000) });
    const lookup = createMemoryLookup({
      'www.a.test': { deploymentId: 'dwww', manifestHash: site.manifestHash },
      'hsts.a.test': { deploymentId: 'dhsts', manifestHash: site.manifestHash, settings: { hsts: 'max-age=31536000; includeSubDomains' } },
      'nocert.test': { deploymentId: 'dnocert', manifestHash: site.manifestHash },
    });
    const certificates: LoadedCertificate[] = [];
    for (const [names, made, kind] of [
      [[DEFAULT_CERTIFICATE_NAME], selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 30), 'self-signed'],
      [['*.a.test'], await ca.issue(['*.a.test']), 'acme'],
    ] as const) {
      const leaf = new X509Certificate(made.certPem);
      certificates.push({
        id: `crt${certificates.length}`,
        names: [...names],
        source: kind,
        ...made,
        notBefore: Date.parse(leaf.validFrom),
        notAfter: Date.parse(leaf.validTo),
        renewAt: null,
        renewFailures: 0,
        lastError: null,
      });
    }
    const source: TlsSource = { generation: async () => 1, load: async () => ({ certificates, challenges: [] }) };
    const common = { lookup, blobs: fixture.blobs, tls: { source, platformKey: randomBytes(32), pollMs: 1000 } };
    fast = await listenTls({ ...common, observer });
    plain = await listenTls({ ...common, rawResponses: false });
    // load the bytes into each edge's memory (node:http's path), and the routes
    for (const edge of [fast, plain]) {
      for (const host of ['www.a.test', 'hsts.a.test']) {
        for (const path of ['/', '/a.txt', '/big.bin']) await exchange(over(edge.port, host, ['http/1.1']), [`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`]);
      }
    }
    const head = (await exchange(over(fast.port, 'www.a.test', ['http/1.1']), ['HEAD /a.txt HTTP/1.1\r\nHost: www.a.test\r\n\r\n'])).toString();
    etag = /ETag: ([^\r]+)/.exec(head)![1]!;
  });

  after(async () => {
    await fast.edge.close();
    await plain.edge.close();
    await fixture.cleanup();
  });

  it('sends the same bytes as node:http over TLS, with HSTS where the host has it', async () => {
    for (const host of ['www.a.test', 'hsts.a.test']) {
      for (const request of [
        `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET /big.bin HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `HEAD /a.txt HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET /a.txt HTTP/1.1\r\nHost: ${host}\r\nIf-None-Match: ${etag}\r\n\r\n`,
      ]) {
        for (const alpn of [['http/1.1'], undefined]) {
          const { fast: f, plain: p } = await both(host, request, alpn);
          assert.equal(withoutDate(f), withoutDate(p), request);
          assert.deepEqual(seen, [`fast ${request.split(' ')[1]}`], request);
          assert.equal(f.includes('Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n'), host === 'hsts.a.test', request);
        }
      }
    }
  });

  it('pipelines fast answers and hands the connection over at the first request that is not one', async () => {
    // the last request closes: over TLS a client's early end (close_notify) cuts pipelined answers short on either path
    const request = 'GET /a.txt HTTP/1.1\r\nHost: www.a.test\r\n\r\nGET /missing HTTP/1.1\r\nHost: www.a.test\r\n\r\nGET / HTTP/1.1\r\nHost: www.a.test\r\nConnection: close\r\n\r\n';
    const { fast: f, plain: p } = await both('www.a.test', request, ['http/1.1'], false);
    assert.equal(withoutDate(f), withoutDate(p));
    assert.deepEqual(statusLines(f), ['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK']);
    assert.deepEqual(seen, ['fast /a.txt', 'node /missing', 'node /']);
  });

  it("leaves the HTTPS gate's answers to node:http: a host without a certificate, and the HTTP -> HTTPS redirect", async () => {
    const { fast: f, plain: p } = await both('nocert.test', 'GET /a.txt HTTP/1.1\r\nHost: nocert.test\r\n\r\n');
    assert.equal(withoutDate(f), withoutDate(p));
    assert.match(statusLines(f)[0]!, / 421 /);
    assert.deepEqual(seen, ['node /a.txt']);
    const request = ['GET /a.txt HTTP/1.1\r\nHost: www.a.test\r\n\r\n'];
    const plainRedirect = await exchange(() => connect(plain.httpPort, '127.0.0.1'), request);
    seen.length = 0;
    const fastRedirect = await exchange(() => connect(fast.httpPort, '127.0.0.1'), request);
    assert.equal(withoutDate(fastRedirect).replace(`:${fast.port}/`, ':PORT/'), withoutDate(plainRedirect).replace(`:${plain.port}/`, ':PORT/'));
    assert.match(statusLines(fastRedirect)[0]!, / 308 /);
    assert.deepEqual(seen, ['node /a.txt']);
  });

  it('keeps HTTP/2 connections on the HTTP/2 path', async () => {
    const reply = await h2get(fast.port, 'www.a.test', ca.certPem, '/a.txt');
    assert.equal(reply.alpn, 'h2');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'A'.repeat(100));
  });
});
