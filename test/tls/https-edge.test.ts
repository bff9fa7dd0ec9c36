import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { connect as h2connect, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { packageOutput } from '../../src/artifact/index.js';
import { vercelRules } from '../../src/rules/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import type { LoadedCertificate } from '../../src/tls/certificates.js';
import { DEFAULT_CERTIFICATE_NAME, selfSignedCertificate } from '../../src/tls/default-certificate.js';
import type { TlsSource } from '../../src/tls/edge-source.js';
import { tempDir } from '../helpers/paths.js';
import { packageApp } from '../runtime/helpers.js';
import { makeTestCa, type TestCa } from './certs.js';
import { curl, curlMissing, h1get, h2get, handshake, httpGet, type Reply } from './clients.js';

// The HTTPS edge in-process, in front of a real SSR server process and static deployments,
// with certificates the test makes itself and a certificate source it controls.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ca: TestCa;
let caFile: string;
let edge: EdgeServer;
let httpPort: number;
let port: number;
let closeAll: () => Promise<void>;
let lookup: ReturnType<typeof createMemoryLookup>;
let staticHash: string;
const stored: LoadedCertificate[] = [];
let generation = 0;
const source: TlsSource = { generation: async () => generation, load: async () => ({ certificates: [...stored], challenges: [] }) };
const page = `<!doctype html><title>www</title>${'<p>hello over https</p>'.repeat(90)}`;
const asset = `console.log(${JSON.stringify('x'.repeat(100))});\n`.repeat(450);

let serial = 0;
async function store(names: string[], source: LoadedCertificate['source'] = 'acme', made?: { certPem: string; keyPem: string }): Promise<string> {
  const { certPem, keyPem } = made ?? (await ca.issue(names));
  const leaf = new X509Certificate(certPem);
  stored.push({ id: `crt${serial++}`, names, source, certPem, keyPem, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), renewAt: null, renewFailures: 0, lastError: null });
  generation++;
  return leaf.fingerprint256;
}

const fingerprint = (cert: { fingerprint256: string }) => cert.fingerprint256;

before(async () => {
  tmp = await tempDir();
  ca = await makeTestCa();
  caFile = join(tmp.path, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const out = join(tmp.path, 'www');
  await mkdir(out);
  await writeFile(join(out, 'index.html'), page);
  await writeFile(join(out, 'app.js'), asset);
  // a deployment's own file where the edge answers health checks: never served there
  await mkdir(join(out, '.well-known', 'slipway'), { recursive: true });
  await writeFile(join(out, '.well-known', 'slipway', 'healthz'), 'shadow');
  staticHash = (await packageOutput({ outputDir: out, blobs, log: () => {} })).manifestHash;
  const rules = vercelRules(
    JSON.stringify({ redirects: [{ source: '/old', destination: '/', permanent: true }], headers: [{ source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] }] }),
  );
  const rulesHash = (await packageOutput({ outputDir: out, blobs, log: () => {}, rules })).manifestHash;
  const ssrOut = join(tmp.path, 'ssr-static');
  await mkdir(ssrOut);
  await writeFile(join(ssrOut, 'robots.txt'), 'User-agent: *\n');
  const ssrHash = (await packageOutput({ outputDir: ssrOut, blobs, log: () => {}, server: await packageApp(tmp.path, blobs, 'app') })).manifestHash;
  lookup = createMemoryLookup({
    'www.a.test': { deploymentId: 'dwww', manifestHash: staticHash },
    'ssr.a.test': { deploymentId: 'dssr', manifestHash: ssrHash },
    'hsts.a.test': { deploymentId: 'dhsts', manifestHash: staticHash, settings: { hsts: 'max-age=31536000' } },
    'nocert.test': { deploymentId: 'dnocert', manifestHash: staticHash },
    'rules.a.test': { deploymentId: 'drules', manifestHash: rulesHash },
    'locked.a.test': {
      deploymentId: 'dlocked',
      manifestHash: staticHash,
      settings: { protection: { mode: 'token', scope: 'preview', cookieKey: '00'.repeat(32), tokenHash: createHash('sha256').update('let-me-in').digest('hex') } },
    },
  });
  await store([DEFAULT_CERTIFICATE_NAME], 'self-signed', selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 30));
  await store(['*.a.test']);
  const { gateway, runtime } = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 });
  edge = createEdgeServer({ lookup, blobs, servers: gateway, drainGraceMs: 1000, tls: { source, platformKey: randomBytes(32), pollMs: 20 } });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  httpPort = (edge.server.address() as AddressInfo).port;
  await edge.https!.ready;
  await new Promise<void>((resolve) => edge.https!.server.listen(0, '127.0.0.1', resolve));
  port = (edge.https!.server.address() as AddressInfo).port;
  closeAll = async () => {
    await edge.close();
    await runtime.close();
  };
});

after(async () => {
  await closeAll?.();
  await tmp.cleanup();
});

test('curl fetches a static page over HTTP/2 and over HTTP/1.1, with SNI and the certificate verified', { skip: curlMissing }, async () => {
  const h2 = await curl(port, 'www.a.test', caFile, '/', ['--http2']);
  assert.equal(h2.code, 200);
  assert.equal(h2.version, '2');
  assert.equal(h2.body, page);
  const h1 = await curl(port, 'www.a.test', caFile, '/app.js', ['--http1.1']);
  assert.equal(h1.code, 200);
  assert.equal(h1.version, '1.1');
  assert.equal(h1.body, asset);
  // keep-alive over TLS: several requests on one connection, each answered whole
  const many = await curl(port, 'www.a.test', caFile, '/', ['--http1.1', '-o', '/dev/null', `https://www.a.test:${port}/app.js`, `https://www.a.test:${port}/index.html`]);
  assert.equal(many.code, 200);
});

test('HTTP/1.1 over TLS: pipelined, keep-alive and closing requests on one connection each get their whole answer', async () => {
  // the edge writes cached files straight to the socket (raw fast path): over TLS too, in order
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'www.a.test', ca: ca.certPem, ALPNProtocols: ['http/1.1'] });
  await once(socket, 'secureConnect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(socket, 'end');
  socket.write('GET / HTTP/1.1\r\nHost: www.a.test\r\n\r\nGET /app.js HTTP/1.1\r\nHost: www.a.test\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  socket.write('HEAD /app.js HTTP/1.1\r\nHost: www.a.test\r\n\r\nGET / HTTP/1.1\r\nHost: www.a.test\r\nConnection: close\r\n\r\n');
  await ended;
  let rest = Buffer.concat(chunks).toString('latin1');
  const bodies: string[] = [];
  for (const isHead of [false, false, true, false]) {
    const split = rest.indexOf('\r\n\r\n');
    const head = rest.slice(0, split);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    const bodyLength = isHead ? 0 : length;
    bodies.push(rest.slice(split + 4, split + 4 + bodyLength));
    rest = rest.slice(split + 4 + bodyLength);
  }
  assert.deepEqual(bodies, [page, asset, '', page]);
  assert.equal(rest, '', 'nothing after the last answer: the connection closed as asked');
});

test('over HTTP/2 the edge keeps its ETag/304, ranges and compression', async () => {
  const full = await h2get(port, 'www.a.test', ca.certPem, '/app.js');
  assert.equal(full.alpn, 'h2');
  assert.equal(full.text, asset);
  const etag = String(full.headers.etag);
  assert.match(etag, /^"[0-9a-f]{64}"$/);
  const again = await h2get(port, 'www.a.test', ca.certPem, '/app.js', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  const part = await h2get(port, 'www.a.test', ca.certPem, '/app.js', { range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.text, asset.slice(10, 20));
  assert.equal(part.headers['content-range'], `bytes 10-19/${asset.length}`);
  const gz = await h2get(port, 'www.a.test', ca.certPem, '/app.js', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body).toString(), asset);
  const missing = await h2get(port, 'www.a.test', ca.certPem, '/nope');
  assert.equal(missing.status, 404);
  const traversal = await h2get(port, 'www.a.test', ca.certPem, '/%2e%2e/%2e%2e/etc/passwd');
  assert.ok(traversal.status === 400 || traversal.status === 404, `got ${traversal.status}`);
});

test('SSR over HTTP/2 and HTTP/1.1: proxied with Host, x-forwarded-proto https, bodies both ways', async () => {
  const h2 = JSON.parse((await h2get(port, 'ssr.a.test', ca.certPem, '/headers')).text) as Record<string, string>;
  assert.equal(h2.host, 'ssr.a.test');
  assert.equal(h2['x-forwarded-proto'], 'https');
  assert.equal(h2['x-forwarded-host'], 'ssr.a.test');
  assert.ok(!Object.keys(h2).some((name) => name.startsWith(':')), 'no pseudo-header reaches the server');
  const posted = await h2get(port, 'ssr.a.test', ca.certPem, '/echo', { ':method': 'POST' }, 'y'.repeat(5000));
  assert.equal(posted.text, 'v0 got 5000 bytes');
  const slow = await h2get(port, 'ssr.a.test', ca.certPem, '/slow?every=10');
  assert.match(slow.text, /v0 chunk 9\nv0 done\n$/);
  const h1 = JSON.parse((await h1get(port, 'ssr.a.test', ca.certPem, '/headers')).text) as Record<string, string>;
  assert.equal(h1['x-forwarded-proto'], 'https');
});

test('a WebSocket-style upgrade over HTTPS (HTTP/1.1) reaches the SSR server', async () => {
  const socket = await new Promise<Duplex>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/shout', servername: 'ssr.a.test', ca: ca.certPem, headers: { host: 'ssr.a.test', connection: 'Upgrade', upgrade: 'shout' } });
    req.on('upgrade', (_res, s) => resolve(s));
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  const echoed = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
  socket.write('hello');
  assert.equal(await echoed, 'HELLO');
  socket.destroy();
});

test('a host with no certificate: the default certificate, then a clear page, never a hang', { skip: curlMissing }, async () => {
  const shake = await handshake(port, 'nocert.test');
  assert.equal(shake.cert.subjectaltname, `DNS:${DEFAULT_CERTIFICATE_NAME}`);
  const noSni = await handshake(port, '');
  assert.equal(noSni.cert.subjectaltname, `DNS:${DEFAULT_CERTIFICATE_NAME}`);
  const res = await curl(port, 'nocert.test', caFile, '/', ['--http2', '--insecure']);
  assert.equal(res.code, 421);
  assert.match(res.body, /No certificate for this site yet/);
  assert.match(res.body, /slipway domains add nocert\.test/);
  // over plain HTTP it still serves, and is not redirected
  const plain = await httpGet(httpPort, 'nocert.test', '/');
  assert.equal(plain.status, 200);
  assert.equal(plain.text, page);
});

test('SNI: an exact certificate beats the wildcard; a new stored certificate is served without a restart', async () => {
  const wildcard = await handshake(port, 'www.a.test');
  assert.equal(wildcard.cert.subjectaltname, 'DNS:*.a.test');
  const exact = await store(['www.a.test']);
  await waitUntil(async () => fingerprint((await handshake(port, 'www.a.test')).cert) === exact, 'the exact certificate is served');
  assert.equal((await handshake(port, 'WWW.A.TEST.')).cert.fingerprint256, exact, 'SNI is case-insensitive, trailing dot ignored');
  assert.equal((await handshake(port, 'ssr.a.test')).cert.subjectaltname, 'DNS:*.a.test');
  assert.equal((await handshake(port, 'deep.www.a.test')).cert.subjectaltname, `DNS:${DEFAULT_CERTIFICATE_NAME}`, 'a wildcard covers one label');
});

test('HTTP -> HTTPS: 308 with path, query and port for a host with a certificate, except ACME challenges', async () => {
  const res = await httpGet(httpPort, 'www.a.test:8080', '/docs/page?x=1&y=2');
  assert.equal(res.status, 308);
  assert.equal(res.headers.location, `https://www.a.test:${port}/docs/page?x=1&y=2`);
  const acme = await httpGet(httpPort, 'www.a.test', '/.well-known/acme-challenge/token123');
  assert.notEqual(acme.status, 308, 'ACME HTTP-01 requests are never redirected');
});

test('HSTS only on HTTPS responses, only for a host that asks for it', async () => {
  const on = await h2get(port, 'hsts.a.test', ca.certPem, '/');
  assert.equal(on.status, 200);
  assert.equal(on.headers['strict-transport-security'], 'max-age=31536000');
  const h1 = await h1get(port, 'hsts.a.test', ca.certPem, '/app.js');
  assert.equal(h1.headers['strict-transport-security'], 'max-age=31536000');
  assert.equal(h1.text, asset);
  const off = await h2get(port, 'www.a.test', ca.certPem, '/');
  assert.equal(off.headers['strict-transport-security'], undefined);
});

test('a zero-downtime switch holds over HTTP/2: requests during an alias move all succeed', async () => {
  const results: number[] = [];
  let running = true;
  const load = (async () => {
    while (running) results.push((await h2get(port, 'www.a.test', ca.certPem, '/')).status);
  })();
  lookup.set('www.a.test', { deploymentId: 'dwww2', manifestHash: staticHash });
  await edge.refresh();
  await waitUntil(async () => (await h2get(port, 'www.a.test', ca.certPem, '/')).headers['x-slipway-deployment'] === 'dwww2', 'the move is served');
  running = false;
  await load;
  assert.ok(results.length > 0 && results.every((s) => s === 200), JSON.stringify(results));
});

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** Requests one after another on one HTTP/2 session (SNI = `servername`); the replies in order. */
async function h2sequence(servername: string, requests: OutgoingHttpHeaders[]): Promise<Reply[]> {
  const session = h2connect(`https://127.0.0.1:${port}`, { ca: ca.certPem, servername, rejectUnauthorized: servername !== 'nocert.test' });
  const replies: Reply[] = [];
  try {
    for (const headers of requests) {
      const req = session.request(headers);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      const ended = once(req, 'end'); // a HEAD or 304 may end in the same tick as its response
      const [head] = (await once(req, 'response')) as [IncomingHttpHeaders];
      await ended;
      const body = Buffer.concat(chunks);
      replies.push({ status: Number(head[':status']), headers: head as Reply['headers'], body, text: body.toString() });
    }
  } finally {
    session.close();
  }
  return replies;
}

const withoutDate = (reply: Reply) => ({ status: reply.status, body: reply.body.toString('base64'), headers: Object.fromEntries(Object.entries(reply.headers).filter(([name]) => name !== 'date')) });

test('HTTP/2: once the route and bytes are cached, every answer is the same as the first (GET, HEAD, 304, gzip, HSTS, no certificate, protection, rules)', async () => {
  // the first request of each kind is looked up (route, blob); the repeats are answered from memory
  const kinds: { servername: string; headers: OutgoingHttpHeaders }[] = [
    { servername: 'www.a.test', headers: { ':path': '/', ':authority': 'www.a.test' } },
    { servername: 'www.a.test', headers: { ':path': '/app.js?v=2', ':authority': 'www.a.test', 'accept-encoding': 'gzip, br' } },
    { servername: 'www.a.test', headers: { ':method': 'HEAD', ':path': '/app.js', ':authority': 'www.a.test' } },
    { servername: 'hsts.a.test', headers: { ':path': '/app.js', ':authority': 'hsts.a.test' } },
    { servername: 'nocert.test', headers: { ':path': '/', ':authority': 'nocert.test' } },
    { servername: 'locked.a.test', headers: { ':path': '/app.js', ':authority': 'locked.a.test' } },
    { servername: 'rules.a.test', headers: { ':path': '/app.js', ':authority': 'rules.a.test' } },
    { servername: 'rules.a.test', headers: { ':path': '/old', ':authority': 'rules.a.test' } },
  ];
  // nocert.test's route is cached by a plain HTTP request first: over HTTPS it must still get the 421
  assert.equal((await httpGet(httpPort, 'nocert.test', '/')).status, 200);
  for (const { servername, headers } of kinds) {
    const replies = await h2sequence(servername, [headers, headers, headers]);
    for (const reply of replies.slice(1)) assert.deepEqual(withoutDate(reply), withoutDate(replies[0]!), `${servername} ${String(headers[':path'])}`);
    assert.ok(
      replies.every((r) => typeof r.headers.date === 'string'),
      'every answer has a Date',
    );
  }
  const [get, , head] = await h2sequence('www.a.test', [kinds[0]!.headers, kinds[0]!.headers, { ...kinds[0]!.headers, ':method': 'HEAD' }]);
  assert.equal(get!.text, page);
  assert.equal(head!.headers['content-length'], String(Buffer.byteLength(page)));
  assert.equal(head!.body.length, 0);
  const [br] = await h2sequence('www.a.test', [kinds[1]!.headers]);
  assert.equal(br!.headers['content-encoding'], 'br');
  assert.equal(brotliDecompressSync(br!.body).toString(), asset);
  const [hsts] = await h2sequence('hsts.a.test', [kinds[3]!.headers]);
  assert.equal(hsts!.headers['strict-transport-security'], 'max-age=31536000');
  assert.equal(hsts!.text, asset);
  const [noCert] = await h2sequence('nocert.test', [kinds[4]!.headers]);
  assert.equal(noCert!.status, 421);
  // a protected host: its files only with the token, however warm its route and bytes are
  const locked = await h2sequence('locked.a.test', [kinds[5]!.headers, kinds[5]!.headers, { ...kinds[5]!.headers, 'x-slipway-protection-bypass': 'let-me-in' }]);
  assert.deepEqual(
    locked.map((r) => r.status),
    [401, 401, 200],
  );
  assert.notEqual(locked[1]!.text, asset);
  assert.equal(locked[2]!.text, asset);
  // the edge's health check, on a path the deployment has a file at, however warm the host is
  for (const reply of await h2sequence(
    'www.a.test',
    [1, 2].map(() => ({ ':path': '/.well-known/slipway/healthz', ':authority': 'www.a.test' })),
  )) {
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.text).role, 'edge');
  }
  // a site with rules: the rule's header on the file every time, the redirect every time
  const [ruled] = await h2sequence('rules.a.test', [kinds[6]!.headers]);
  assert.equal(ruled!.headers['x-frame-options'], 'DENY');
  assert.equal(ruled!.text, asset);
  const moved = await h2sequence('rules.a.test', [kinds[7]!.headers, kinds[7]!.headers]);
  assert.deepEqual(
    moved.map((r) => [r.status, r.headers.location]),
    [
      [308, '/'],
      [308, '/'],
    ],
  );
  const etag = String(get!.headers.etag);
  const notModified = await h2sequence(
    'www.a.test',
    [1, 2, 3].map(() => ({ ...kinds[0]!.headers, 'if-none-match': etag })),
  );
  for (const reply of notModified) {
    assert.equal(reply.status, 304);
    assert.equal(reply.headers.etag, etag);
    assert.equal(reply.body.length, 0);
  }
});
