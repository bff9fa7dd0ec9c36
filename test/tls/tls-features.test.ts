import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import acme from 'acme-client';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import type { EdgeTlsOptions } from '../../src/edge/https.js';
import type { LoadedCertificate } from '../../src/tls/certificates.js';
import { DEFAULT_CERTIFICATE_NAME, selfSignedCertificate } from '../../src/tls/default-certificate.js';
import type { AlpnChallenge, TlsSource } from '../../src/tls/edge-source.js';
import { tempDir } from '../helpers/paths.js';
import { makeTestCa, type TestCa } from './certs.js';
import { h2get, handshake } from './clients.js';

// Session tickets across edge processes, the operator's certificate files, TLS-ALPN-01: each
// against edges started here (each one is what one edge process runs).
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ca: TestCa;
const edges: EdgeServer[] = [];
const certificates: LoadedCertificate[] = [];
const challenges: AlpnChallenge[] = [];
let generation = 0;
const source: TlsSource = { generation: async () => generation, load: async () => ({ certificates: [...certificates], challenges: [...challenges] }) };
const platformKey = randomBytes(32);

function loaded(names: string[], made: { certPem: string; keyPem: string }, source: LoadedCertificate['source'] = 'acme'): LoadedCertificate {
  const leaf = new X509Certificate(made.certPem);
  return { id: `crt${certificates.length}`, names, source, ...made, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), renewAt: null, renewFailures: 0, lastError: null };
}

async function startEdge(tls: Partial<EdgeTlsOptions> = {}): Promise<number> {
  const edge = createEdgeServer({ lookup: createMemoryLookup(), blobs: new LocalBlobStore(join(tmp.path, 'blobs')), tls: { source, platformKey, pollMs: 20, ...tls } });
  edges.push(edge);
  await edge.https!.ready;
  await new Promise<void>((resolve) => edge.https!.server.listen(0, '127.0.0.1', resolve));
  return (edge.https!.server.address() as AddressInfo).port;
}

before(async () => {
  tmp = await tempDir();
  ca = await makeTestCa();
  certificates.push(loaded([DEFAULT_CERTIFICATE_NAME], selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 30), 'self-signed'));
  certificates.push(loaded(['*.b.test'], await ca.issue(['*.b.test'])));
  generation++;
});

after(async () => {
  for (const edge of edges) await edge.close();
  await tmp.cleanup();
});

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`a session made on one edge process resumes on another (${maxVersion}), not on one with another platform key`, async () => {
    const [a, b] = [await startEdge(), await startEdge()];
    const first = await handshake(a, 'www.b.test', { maxVersion });
    assert.equal(first.reused, false);
    assert.ok(first.session !== undefined, 'the server issued a session ticket');
    const resumed = await handshake(b, 'www.b.test', { maxVersion, session: first.session });
    assert.equal(resumed.reused, true, 'resumed on the other process');
    const stranger = await startEdge({ platformKey: randomBytes(32) });
    const refused = await handshake(stranger, 'www.b.test', { maxVersion, session: first.session });
    assert.equal(refused.reused, false, 'a process with another key cannot read the ticket');
  });
}

test("the operator's certificate wins for its names and is picked up when its files are replaced", async () => {
  const certFile = join(tmp.path, 'site.crt');
  const keyFile = join(tmp.path, 'site.key');
  const first = await ca.issue(['*.b.test', 'op.test']);
  await writeFile(certFile, first.certPem);
  await writeFile(keyFile, first.keyPem);
  const port = await startEdge({ operator: { certFile, keyFile } });
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  assert.equal((await handshake(port, 'op.test')).cert.fingerprint256, fp(first.certPem));
  assert.equal((await handshake(port, 'www.b.test')).cert.fingerprint256, fp(first.certPem), 'wins over the stored *.b.test');

  // a renewal tool writes new files next to the old ones and renames them into place
  const second = await ca.issue(['op.test']);
  await writeFile(`${certFile}.new`, second.certPem);
  await writeFile(`${keyFile}.new`, second.keyPem);
  await rename(`${keyFile}.new`, keyFile);
  await rename(`${certFile}.new`, certFile);
  await waitUntil(async () => (await handshake(port, 'op.test')).cert.fingerprint256 === fp(second.certPem), 'the new operator certificate is served', 5000);
  assert.equal((await handshake(port, 'www.b.test')).cert.subjectaltname, 'DNS:*.b.test', 'names it no longer covers fall back to the store');

  // a half-written pair (a key that is not the certificate's) keeps the last good one
  await writeFile(keyFile, (await ca.issue(['op.test'])).keyPem);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await handshake(port, 'op.test')).cert.fingerprint256, fp(second.certPem));
});

test('TLS-ALPN-01: acme-tls/1 for a pending name gets the challenge certificate and a closed connection; others are untouched', async () => {
  const port = await startEdge();
  const keyAuthorization = 'token-abc.thumbprint-xyz';
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate({ identifier: { type: 'dns', value: 'alpn.b.test' } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0], keyAuthorization);
  challenges.push({ name: 'alpn.b.test', certPem: certPem.toString(), keyPem: keyPem.toString(), expiresAt: Date.now() + 60_000 });
  generation++;
  await waitUntil(async () => (await handshake(port, 'alpn.b.test', { alpn: ['acme-tls/1'] })).alpn === 'acme-tls/1', 'the challenge is answered');

  const answer = await handshake(port, 'alpn.b.test', { alpn: ['acme-tls/1'] });
  assert.equal(answer.alpn, 'acme-tls/1');
  const presented = `-----BEGIN CERTIFICATE-----\n${answer.cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
  assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(presented, keyAuthorization), 'the acmeIdentifier extension holds the key authorization');
  assert.equal(answer.closedByServer, true, 'the server closes after the handshake');

  // while the challenge is pending, ordinary clients for the same name still get the site's certificate
  const browser = await handshake(port, 'alpn.b.test', { alpn: ['h2', 'http/1.1'] });
  assert.equal(browser.alpn, 'h2');
  assert.equal(browser.cert.subjectaltname, 'DNS:*.b.test');
  const page = await h2get(port, 'alpn.b.test', ca.certPem, '/');
  assert.equal(page.status, 404, 'a request over the same port is handled as usual (no site here)');
  // acme-tls/1 for a name without a challenge is not answered with one
  const other = await handshake(port, 'other.b.test', { alpn: ['acme-tls/1', 'http/1.1'] });
  assert.notEqual(other.alpn, 'acme-tls/1');

  challenges.length = 0;
  generation++;
  await waitUntil(async () => (await handshake(port, 'alpn.b.test', { alpn: ['acme-tls/1', 'http/1.1'] })).alpn !== 'acme-tls/1', 'the answered challenge is gone');
});

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
