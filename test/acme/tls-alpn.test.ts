import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readCounter } from '../../src/store/index.js';
import { waitFor } from '../helpers/slipway.js';
import { acmeTestSkip, addDomain, assertIssued, certificateRows, startAcmeWorld, waitForDomain, type AcmeWorld } from './harness.js';

const skip = acmeTestSkip();
if (skip !== false) console.log(`# skipping TLS-ALPN-01 tests: ${skip}`);

/** id-pe-acmeIdentifier (RFC 8737): the critical extension that carries the key authorization digest */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

describe('TLS-ALPN-01 (--acme-challenge tls-alpn-01): the answer goes through the store to the HTTPS listener', { skip }, () => {
  let world: AcmeWorld;
  before(async () => {
    world = await startAcmeWorld({ flags: () => ['--acme-challenge', 'tls-alpn-01'] });
  });
  after(async () => world?.close());

  it('publishes an acme-tls/1 certificate for the host, encrypted, and tells the edges', async () => {
    const generation = await readCounter(world.store.db, 'tls_generation');
    await addDomain(world, 'alpn', 'alpn.acme.test');
    // the row lives while the CA validates (at least the edges' reload time)
    const row = await waitFor('the tls-alpn-01 answer', () => world.store.db.selectFrom('acme_challenges').selectAll().where('kind', '=', 'tls-alpn-01').executeTakeFirst(), 20_000, 50);
    assert.equal(row.key, 'alpn.acme.test');
    assert.doesNotMatch(row.value, /BEGIN/, 'encrypted with the platform key');
    const { certPem, keyPem } = JSON.parse(world.box.decrypt(row.value)) as { certPem: string; keyPem: string };
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subjectAltName, 'DNS:alpn.acme.test');
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
    const ext = new x509.X509Certificate(certPem).getExtension(ACME_IDENTIFIER_OID);
    assert.ok(ext?.critical, 'carries the critical acmeIdentifier extension');
    assert.ok((await readCounter(world.store.db, 'tls_generation')) > generation, 'tls_generation bumped so every edge loads it');
    const done = await waitForDomain(world, 'alpn.acme.test', (d) => d.status !== 'pending-certificate');
    assert.deepEqual(await world.store.db.selectFrom('acme_challenges').selectAll().execute(), [], 'taken down after validation');
    if (!world.hasHttps) {
      // nothing listens on the HTTPS port yet: the CA cannot connect, and the domain says so
      assert.equal(done.status, 'error');
      assert.match(done.status_detail ?? '', /alpn\.acme\.test over tls-alpn-01 failed/);
    }
  });

  it('a domain gets its certificate over TLS-ALPN-01 from the edge', async (t) => {
    if (!world.hasHttps) {
      const reason = 'the edge has no HTTPS listener yet (no httpsPort in /healthz): TLS-ALPN-01 cannot be answered';
      console.log(`# skipping: ${reason}`);
      t.skip(reason);
      return;
    }
    await addDomain(world, 'alpn2', 'alpn2.acme.test');
    const domain = await waitForDomain(world, 'alpn2.acme.test', (d) => d.status !== 'pending-certificate');
    assert.equal(domain.status, 'active', domain.status_detail ?? '');
    const [row] = await certificateRows(world, ['alpn2.acme.test']);
    await assertIssued(world, row!, ['alpn2.acme.test']);
  });
});
