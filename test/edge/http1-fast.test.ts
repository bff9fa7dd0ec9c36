import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { vercelRules } from '../../src/rules/index.js';
import { exchange, gatewayStub, pathRecorder, serverDeployment, statusLines, withoutDate } from './http1-fast-helpers.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from './helpers.js';

// The HTTP/1.1 fast path (src/edge/http1-fast.ts) against node:http's path on the same bytes:
// the same edge with rawResponses: false is the reference for every answer, and the observer
// tells which path answered each request.

const FAST = 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n';
const FOLLOW = 'GET /b.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('edge HTTP/1.1 fast path', () => {
  let fixture: EdgeFixture;
  let fast: { edge: EdgeServer; port: number };
  let plain: { edge: EdgeServer; port: number };
  const recorder = pathRecorder();
  const seen = recorder.seen;
  let etag: string;

  const to = (port: number) => () => connect(port, '127.0.0.1');
  /** the same bytes to both edges: the fast one's answers, and the node:http path's */
  async function both(parts: Array<string | Buffer>, opts: { end?: boolean } = {}): Promise<{ fast: Buffer; plain: Buffer }> {
    const plainBytes = await exchange(to(plain.port), parts, opts);
    seen.length = 0;
    return { fast: await exchange(to(fast.port), parts, opts), plain: plainBytes };
  }

  before(async () => {
    fixture = await blobFixture();
    const site = await makeDeployment(fixture.blobs, {
      'index.html': '<!doctype html><p>home</p>',
      'a.txt': 'A'.repeat(100),
      'b.txt': 'B'.repeat(200),
      'big.bin': 'x'.repeat(100_000),
      'mid.bin': 'm'.repeat(8_000),
      'style.css': { body: 'body { color: red }\n'.repeat(50), gzip: true, br: true },
    });
    const ssr = await serverDeployment(fixture.blobs, { 'static.txt': 'static file of an SSR site' });
    // the same files with vercel.json rules: one only the path decides, one with a cookie condition
    const withRules = async (rules: object) => {
      const json = Buffer.from(JSON.stringify({ ...site.manifest, rules: vercelRules(JSON.stringify(rules)) }));
      await fixture.blobs.put(sha256(json), json);
      return sha256(json);
    };
    const headerRule = { source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] };
    const lookup = createMemoryLookup({
      'r.localhost': { deploymentId: 'dpl_r', manifestHash: site.manifestHash },
      'ssr.localhost': { deploymentId: 'dpl_ssr', manifestHash: ssr },
      'rules.localhost': { deploymentId: 'dpl_rules', manifestHash: await withRules({ headers: [headerRule], redirects: [{ source: '/old', destination: '/', permanent: true }] }) },
      'cond.localhost': {
        deploymentId: 'dpl_cond',
        manifestHash: await withRules({ headers: [headerRule], redirects: [{ source: '/beta', destination: '/', permanent: false, has: [{ type: 'cookie', key: 'beta' }] }] }),
      },
    });
    fast = await listenEdge({ lookup, blobs: fixture.blobs, observer: recorder.observer, servers: gatewayStub });
    plain = await listenEdge({ lookup, blobs: fixture.blobs, rawResponses: false, servers: gatewayStub });
    // the first request for a file loads its bytes (node:http's path); from then on they are in memory
    for (const edge of [fast, plain]) {
      for (const path of ['/', '/a.txt', '/b.txt', '/big.bin', '/mid.bin', '/style.css']) {
        for (const encoding of ['identity', 'gzip', 'br']) await get(edge.port, 'r.localhost', path, { headers: { 'accept-encoding': encoding } });
      }
      await get(edge.port, 'ssr.localhost', '/static.txt');
      for (const host of ['rules.localhost', 'cond.localhost']) await get(edge.port, host, '/a.txt');
    }
    etag = String((await get(fast.port, 'r.localhost', '/a.txt')).headers.etag);
  });

  after(async () => {
    await fast.edge.close();
    await plain.edge.close();
    await fixture.cleanup();
  });

  it('sends the same bytes as node:http for the requests it answers (except Date)', async () => {
    const requests = [
      'GET / HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
      'GET /a.txt HTTP/1.1\r\nhost:R.localhost:80 \r\nUser-Agent:\tcurl/8\r\nAccept: */*\r\n\r\n',
      'GET /big.bin?v=1 HTTP/1.1\r\nHost: r.localhost\r\nConnection: Keep-Alive\r\n\r\n',
      'HEAD /a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
      'GET /style.css HTTP/1.1\r\nHost: r.localhost\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n',
      'GET /style.css HTTP/1.1\r\nHost: r.localhost\r\nAccept-Encoding: gzip\r\n\r\n',
      `GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nIf-None-Match: ${etag}\r\n\r\n`,
      `HEAD /a.txt HTTP/1.1\r\nHost: r.localhost\r\nIf-None-Match: "other", ${etag}\r\n\r\n`,
      'GET /static.txt HTTP/1.1\r\nHost: ssr.localhost\r\n\r\n',
      // a site with rules, on a path whose outcome is remembered: with the rule's header
      'GET /a.txt HTTP/1.1\r\nHost: rules.localhost\r\n\r\n',
    ];
    for (const request of requests) {
      await both([request]); // a Host spelt a new way is looked up (node:http's path) once
      const { fast: f, plain: p } = await both([request]);
      assert.equal(withoutDate(f), withoutDate(p), request);
      assert.match(f.toString('latin1'), /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
      assert.equal(seen.length, 1, request);
      assert.match(seen[0]!, /^fast /, `${request} was answered by ${seen[0]}`);
    }
    assert.match(statusLines((await both([requests[6]!])).fast)[0]!, / 304 /);
  });

  it("leaves a rules site to node:http where a request can change the rules' outcome (a redirect, a condition)", async () => {
    for (const request of ['GET /old HTTP/1.1\r\nHost: rules.localhost\r\n\r\n', 'GET /a.txt HTTP/1.1\r\nHost: cond.localhost\r\n\r\n']) {
      await both([request]);
      const { fast: f, plain: p } = await both([request]);
      assert.equal(withoutDate(f), withoutDate(p), request);
      assert.deepEqual(seen, [`node ${request.split(' ')[1]}`], request);
    }
    const ruled = await both(['GET /a.txt HTTP/1.1\r\nHost: rules.localhost\r\n\r\n']);
    assert.match(ruled.fast.toString('latin1'), /\r\nX-Frame-Options: DENY\r\n/);
  });

  it('answers pipelined requests in order across the hand-over to node:http', async () => {
    const { fast: f, plain: p } = await both([`${FAST}GET /missing HTTP/1.1\r\nHost: r.localhost\r\n\r\n${FOLLOW}`]);
    assert.equal(withoutDate(f), withoutDate(p));
    assert.deepEqual(statusLines(f), ['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK']);
    assert.ok(f.toString().endsWith('B'.repeat(200)));
    // once node:http has the connection it keeps it
    assert.deepEqual(seen, ['fast /a.txt', 'node /missing', 'node /b.txt']);
  });

  it('hands a request with a body (POST to an SSR server) over with its body intact', async () => {
    const post = 'POST /api?x=1 HTTP/1.1\r\nHost: ssr.localhost\r\nContent-Length: 5\r\n\r\nhello';
    const { fast: f, plain: p } = await both([`GET /static.txt HTTP/1.1\r\nHost: ssr.localhost\r\n\r\n${post}`, FOLLOW]);
    assert.equal(withoutDate(f), withoutDate(p));
    assert.match(f.toString(), /server saw POST \/api\?x=1 hello/);
    assert.deepEqual(seen, ['fast /static.txt', 'node /api?x=1', 'node /b.txt']);
  });

  it('hands over a head split across packets at once, and node:http reads it whole', async () => {
    const { fast: f, plain: p } = await both([`${FAST}GET /b.txt HTTP/1.1\r\nHo`, 'st: r.localhost\r\n\r\n', FAST]);
    assert.equal(withoutDate(f), withoutDate(p));
    assert.deepEqual(statusLines(f), ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    assert.deepEqual(seen, ['fast /a.txt', 'node /b.txt', 'node /a.txt']);
  });

  // each after a fast request on the same connection, with one more behind it: the answer is the
  // fast one, then whatever node:http makes of the odd request and what follows it on a connection
  // of their own, byte for byte. (Not the same bytes to node:http on one connection: node writes
  // no 400 for a bad request while the previous answer is still its in-flight response.)
  const odd: Record<string, string | Buffer> = {
    'Content-Length and Transfer-Encoding': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'Transfer-Encoding only': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'Content-Length: 0 on GET': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nContent-Length: 0\r\n\r\n',
    'Content-Length with a body on GET': `GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nContent-Length: ${FOLLOW.length}\r\n\r\n${FOLLOW}`,
    'obs-fold': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-Folded: one\r\n two\r\n\r\n',
    'bare LF line endings': 'GET /a.txt HTTP/1.1\nHost: r.localhost\n\n',
    'a bare LF inside the head': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\nX-A: b\r\n\r\n',
    'a bare CR inside a value': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-A: b\rc\r\n\r\n',
    'duplicate Host': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nHost: other.localhost\r\n\r\n',
    'no Host': 'GET /a.txt HTTP/1.1\r\nAccept: */*\r\n\r\n',
    'NUL in a value': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-A: b\0c\r\n\r\n',
    'DEL in a value': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-A: b\x7fc\r\n\r\n',
    'a byte >= 0x80 in a value': Buffer.concat([Buffer.from('GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-A: caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('\r\n\r\n')]),
    'a space before the colon': 'GET /a.txt HTTP/1.1\r\nHost : r.localhost\r\n\r\n',
    'an oversized head (> 16 KB)': `GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
    'HTTP/1.0': 'GET /a.txt HTTP/1.0\r\nHost: r.localhost\r\n\r\n',
    'absolute-form': 'GET http://r.localhost/a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
    'Connection: close': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nConnection: close\r\n\r\n',
    'Connection: keep-alive, Upgrade': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n\r\n',
    'Expect: 100-continue': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nExpect: 100-continue\r\n\r\n',
    'a Range': 'GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nRange: bytes=0-9\r\n\r\n',
    'two spaces in the request line': 'GET  /a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
    'a lower-case method': 'get /a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
    'leading empty line': '\r\nGET /a.txt HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
    'a health check': 'GET /.well-known/slipway/healthz HTTP/1.1\r\nHost: r.localhost\r\n\r\n',
    'an unknown host': 'GET /a.txt HTTP/1.1\r\nHost: nowhere.localhost\r\n\r\n',
  };
  for (const [name, request] of Object.entries(odd)) {
    it(`leaves ${name} to node:http`, async () => {
      const rest = Buffer.concat([Buffer.from(request), Buffer.from(FOLLOW)]);
      const expected = Buffer.concat([await exchange(to(plain.port), [FAST]), await exchange(to(plain.port), [rest])]);
      seen.length = 0;
      const f = await exchange(to(fast.port), [Buffer.concat([Buffer.from(FAST), rest])]);
      assert.equal(withoutDate(f), withoutDate(expected), `${name}: ${statusLines(f).join(' | ')} vs ${statusLines(expected).join(' | ')}`);
      assert.equal(seen[0], 'fast /a.txt');
      assert.deepEqual(
        seen.slice(1).filter((s) => s.startsWith('fast')),
        [],
        name,
      );
    });
  }

  it('answers Connection: close and HTTP/1.0 and closes the connection, without the client ending it', async () => {
    for (const request of ['GET /a.txt HTTP/1.1\r\nHost: r.localhost\r\nConnection: close\r\n\r\n', 'GET /a.txt HTTP/1.0\r\nHost: r.localhost\r\n\r\n']) {
      // node:http alone drops this answer when a request follows it on the same connection: after
      // the fast answer it sees the closing request first, answers it and closes
      const expected = Buffer.concat([await exchange(to(plain.port), [FAST]), await exchange(to(plain.port), [request + FOLLOW], { end: false })]);
      const f = await exchange(to(fast.port), [FAST + request + FOLLOW], { end: false });
      assert.equal(withoutDate(f), withoutDate(expected));
      assert.equal(statusLines(f).length, 2, request);
    }
  });

  it('lets a WebSocket upgrade through after a fast request on the same connection', async () => {
    const upgrade = 'GET /socket HTTP/1.1\r\nHost: ssr.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n';
    seen.length = 0;
    const bytes = await exchange(to(fast.port), [`GET /static.txt HTTP/1.1\r\nHost: ssr.localhost\r\n\r\n${upgrade}`, 'ping', 'bye'], { end: false });
    const text = bytes.toString('latin1');
    assert.deepEqual(statusLines(bytes), ['HTTP/1.1 200 OK', 'HTTP/1.1 101 Switching Protocols']);
    assert.ok(text.endsWith('\r\n\r\nping'), text);
    assert.deepEqual(seen, ['fast /static.txt']);
  });

  it('stops reading from a client that pipelines 10,000 requests without reading the answers', async () => {
    let serverSide: Socket | undefined;
    const grab = (socket: Socket) => {
      serverSide = socket;
    };
    fast.edge.server.once('connection', grab);
    const one = (await exchange(to(fast.port), ['GET /mid.bin HTTP/1.1\r\nHost: r.localhost\r\n\r\n'])).length;
    fast.edge.server.once('connection', grab);
    seen.length = 0;
    const client = connect(fast.port, '127.0.0.1');
    await once(client, 'connect');
    client.pause(); // reads nothing: the answers pile up in the kernel, then at the edge
    client.write('GET /mid.bin HTTP/1.1\r\nHost: r.localhost\r\n\r\n'.repeat(10_000));
    for (let i = 0; i < 500 && serverSide?.isPaused() !== true; i++) await sleep(10);
    assert.equal(serverSide?.isPaused(), true, 'the edge went on reading');
    await sleep(100);
    const answered = seen.length;
    assert.ok(answered < 5000, `answered ${answered} requests to a client that reads nothing`);
    // one answer over the fast path's bound (128 KiB) at most, and no more than the socket's own read buffer
    assert.ok(serverSide!.writableLength <= 128 * 1024 + one, `${serverSide!.writableLength} bytes queued`);
    assert.ok(serverSide!.readableLength <= 64 * 1024, `${serverSide!.readableLength} bytes read ahead`);
    // and once the client reads, every answer comes
    let received = 0;
    const all = new Promise<void>((resolve) => {
      client.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 10_000 * one) resolve();
      });
    });
    client.resume();
    await all;
    assert.equal(received, 10_000 * one);
    assert.equal(seen.length, 10_000);
    client.destroy();
  });

  it('ends its idle connections when the edge closes', async () => {
    const lookup = createMemoryLookup({ 'r.localhost': { deploymentId: 'dpl_r', manifestHash: (await makeDeployment(fixture.blobs, { 'a.txt': 'A' })).manifestHash } });
    const { observer, seen: closingSeen } = pathRecorder();
    const closing = await listenEdge({ lookup, blobs: fixture.blobs, observer });
    await get(closing.port, 'r.localhost', '/a.txt');
    const client = connect(closing.port, '127.0.0.1');
    client.write(FAST);
    await once(client, 'data');
    assert.equal(closingSeen.at(-1), 'fast /a.txt');
    const ended = once(client, 'end');
    const closed = closing.edge.close();
    // well before close()'s 5 s deadline, which would end it anyway
    const first = await Promise.race([ended.then(() => 'ended'), sleep(2000).then(() => 'still open')]);
    assert.equal(first, 'ended');
    await closed;
    client.destroy();
  });
});
