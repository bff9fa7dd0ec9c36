import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import acme from 'acme-client';
import { loadSecretKey, SecretBox } from '../../src/secrets.js';
import { bumpCounter, Store } from '../../src/store/index.js';
import { saveCertificate } from '../../src/tls/certificates.js';
import { DEFAULT_CERTIFICATE_NAME } from '../../src/tls/default-certificate.js';
import { startFixtureApp, type FixtureApp } from '../helpers/fixture-app.js';
import { tempDir } from '../helpers/paths.js';
import { makeTestCa, type TestCa } from './certs.js';
import { curl, curlMissing, handshake, h2get, httpGet } from './clients.js';

// A real `slipway up` with two edge processes and HTTPS on: certificates the test makes are
// saved into its store (and its operator files replaced on disk) while it runs, and real
// clients (curl, node) fetch over HTTP/2 and HTTP/1.1 with SNI. The tests build on each other
// (the certificate saved in one is used by the next), so without curl they all skip.
let app: FixtureApp;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ca: TestCa;
let caFile: string;
let store: Store | undefined;
let box: SecretBox;
let httpsPort: number;
const certFile = () => join(tmp.path, 'operator.crt');
const keyFile = () => join(tmp.path, 'operator.key');
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

before(async () => {
  tmp = await tempDir();
  ca = await makeTestCa();
  caFile = join(tmp.path, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const operator = await ca.issue(['op.localhost']);
  await writeFile(certFile(), operator.certPem);
  await writeFile(keyFile(), operator.keyPem);
  app = await startFixtureApp({
    fixture: 'static-site',
    name: 'site',
    versionFile: 'version.txt',
    flags: ['--edge-workers', '2', '--https-port', '0', '--tls-cert', certFile(), '--tls-key', keyFile()],
  });
  await app.deploy('v1');
  const health = await fetch(`${app.slipway.apiUrl}/healthz`).then((r) => r.json() as Promise<{ roles: { edge: { httpsPort: number } } }>);
  httpsPort = health.roles.edge.httpsPort;
  assert.ok(httpsPort > 0, JSON.stringify(health));
});

after(async () => {
  await store?.close();
  await app?.close();
  await tmp?.cleanup();
});

/** the data dir startFixtureApp gave the process (its command line names it) */
function dataDir(): string {
  const args = app.slipway.proc.spawnargs;
  return args[args.indexOf('--data-dir') + 1]!;
}

async function openStore(): Promise<Store> {
  if (store !== undefined) return store;
  box = new SecretBox(await loadSecretKey(join(dataDir(), 'secret.key')));
  store = await Store.openSqlite(join(dataDir(), 'slipway.db'), { migrate: false });
  return store;
}

test('before it has a certificate a host gets the default certificate and the clear page; HTTP serves it', { skip: curlMissing }, async () => {
  const shake = await handshake(httpsPort, 'site.localhost');
  assert.equal(shake.cert.subjectaltname, `DNS:${DEFAULT_CERTIFICATE_NAME}`);
  const res = await curl(httpsPort, 'site.localhost', caFile, '/', ['--http2', '--insecure']);
  assert.equal(res.code, 421);
  assert.match(res.body, /No certificate for this site yet/);
  const plain = await httpGet(app.slipway.edgePort, 'site.localhost', '/');
  assert.equal(plain.status, 200);
  // every edge process presents the same default certificate (made once, kept in the store)
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) seen.add((await handshake(httpsPort, 'nothing.localhost')).cert.fingerprint256);
  assert.equal(seen.size, 1);
});

test('a certificate saved in the store is served by every edge process, over HTTP/2 and HTTP/1.1', { skip: curlMissing }, async () => {
  const db = (await openStore()).db;
  const issued = await ca.issue(['site.localhost']);
  await saveCertificate(db, box, { ...issued, source: 'acme', renewAt: null });
  await waitUntil(async () => {
    for (let i = 0; i < 6; i++) if ((await handshake(httpsPort, 'site.localhost')).cert.fingerprint256 !== fp(issued.certPem)) return false;
    return true;
  }, 'all edge processes serve the new certificate');
  const plain = await httpGet(app.slipway.edgePort, 'site.localhost', '/index.html');
  const h2 = await curl(httpsPort, 'site.localhost', caFile, '/index.html', ['--http2']);
  assert.equal(h2.code, 200);
  assert.equal(h2.version, '2');
  assert.match(h2.body, /v1/);
  const h1 = await curl(httpsPort, 'site.localhost', caFile, '/index.html', ['--http1.1']);
  assert.equal(h1.code, 200);
  assert.equal(h1.version, '1.1');
  assert.equal(h1.body, h2.body);
  assert.equal(plain.status, 308, 'now that it has a certificate, HTTP redirects');
  assert.equal(plain.headers.location, `https://site.localhost:${httpsPort}/index.html`);
  const acmePath = await httpGet(app.slipway.edgePort, 'site.localhost', '/.well-known/acme-challenge/abc');
  assert.notEqual(acmePath.status, 308);
});

test('HSTS appears on HTTPS once the project turns it on', { skip: curlMissing }, async () => {
  const before = await h2get(httpsPort, 'site.localhost', ca.certPem, '/');
  assert.equal(before.headers['strict-transport-security'], undefined, 'off by default');
  const patched = await app.slipway.api('PATCH', '/api/v1/projects/site', { hstsMaxAge: 600 });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await waitUntil(async () => {
    for (let i = 0; i < 4; i++) if ((await h2get(httpsPort, 'site.localhost', ca.certPem, '/')).headers['strict-transport-security'] !== 'max-age=600') return false;
    return true;
  }, 'HSTS on every edge process');
});

test('a TLS session resumes whichever edge process takes the next connection', { skip: curlMissing }, async () => {
  const first = await handshake(httpsPort, 'site.localhost');
  assert.ok(first.session !== undefined);
  for (let i = 0; i < 10; i++) {
    const again = await handshake(httpsPort, 'site.localhost', { session: first.session });
    assert.equal(again.reused, true, `connection ${i} resumed`);
  }
});

test("the operator's certificate is replaced on disk and every edge process picks it up", { skip: curlMissing }, async () => {
  const before = await handshake(httpsPort, 'op.localhost');
  assert.equal(before.cert.subjectaltname, 'DNS:op.localhost');
  const renewed = await ca.issue(['op.localhost']);
  await writeFile(`${keyFile()}.new`, renewed.keyPem);
  await writeFile(`${certFile()}.new`, renewed.certPem);
  await rename(`${keyFile()}.new`, keyFile());
  await rename(`${certFile()}.new`, certFile());
  await waitUntil(async () => {
    for (let i = 0; i < 6; i++) if ((await handshake(httpsPort, 'op.localhost')).cert.fingerprint256 !== fp(renewed.certPem)) return false;
    return true;
  }, 'every process serves the renewed operator certificate');
});

test('TLS-ALPN-01: a challenge row in the store is answered by every edge process', { skip: curlMissing }, async () => {
  const db = (await openStore()).db;
  const keyAuthorization = 'tok.thumb';
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(
    { identifier: { type: 'dns', value: 'new.localhost' } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0],
    keyAuthorization,
  );
  await db
    .insertInto('acme_challenges')
    .values({ kind: 'tls-alpn-01', key: 'new.localhost', value: box.encrypt(JSON.stringify({ certPem: certPem.toString(), keyPem: keyPem.toString() })), expires_at: Date.now() + 120_000 })
    .execute();
  await bumpCounter(db, 'tls_generation');
  await waitUntil(async () => {
    for (let i = 0; i < 6; i++) {
      const answer = await handshake(httpsPort, 'new.localhost', { alpn: ['acme-tls/1'] });
      const presented = `-----BEGIN CERTIFICATE-----\n${answer.cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
      if (answer.alpn !== 'acme-tls/1' || !acme.crypto.isAlpnCertificateAuthorizationValid(presented, keyAuthorization)) return false;
    }
    return true;
  }, 'the challenge is answered');
});

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
