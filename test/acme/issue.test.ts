import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { edgeGet } from '../helpers/slipway.js';
import { acmeTestSkip, addDomain, attempt, assertIssued, certificateRows, dig, domainRow, startAcmeWorld, waitForDomain, type AcmeWorld } from './harness.js';

const skip = acmeTestSkip();
if (skip !== false) console.log(`# skipping ACME end-to-end tests: ${skip}`);

describe('certificates from a real ACME CA (pebble), through a real slipway up with two edge processes', { skip }, () => {
  let world: AcmeWorld;
  before(async () => {
    world = await startAcmeWorld({
      // the base domain's wildcard over DNS-01: RFC 2136 updates to the test's BIND
      flags: (dns) => ['--base-domain', 'sites.test', '--dns01-server', dns.address, '--dns01-tsig-name', dns.tsig.name],
      env: (dns) => ({ SLIPWAY_DNS01_TSIG_SECRET: dns.tsig.secret }),
    });
  });
  after(async () => world?.close());

  it('the edge answers HTTP-01 tokens from the store for any Host, before any site, and nothing else there', async () => {
    await world.store.db
      .insertInto('acme_challenges')
      .values({ kind: 'http-01', key: 'tok_Manual-1', value: 'tok_Manual-1.thumbprint', expires_at: Date.now() + 60_000 })
      .execute();
    // both edge processes answer (each opens the store itself): ask enough times to reach both
    for (let i = 0; i < 6; i++) {
      const res = await edgeGet(world.slipway.edgePort, i % 2 === 0 ? 'anything.example' : 'shop.localhost', '/.well-known/acme-challenge/tok_Manual-1');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'tok_Manual-1.thumbprint');
      assert.match(String(res.headers['content-type']), /^text\/plain/);
    }
    assert.equal((await edgeGet(world.slipway.edgePort, 'anything.example', '/.well-known/acme-challenge/unknown-token')).status, 404);
    assert.equal((await edgeGet(world.slipway.edgePort, 'anything.example', '/.well-known/acme-challenge/../../etc/passwd')).status, 404);
    const expired = 'tok_expired';
    await world.store.db
      .insertInto('acme_challenges')
      .values({ kind: 'http-01', key: expired, value: 'old', expires_at: Date.now() - 1 })
      .execute();
    assert.equal((await edgeGet(world.slipway.edgePort, 'anything.example', `/.well-known/acme-challenge/${expired}`)).status, 404);
    await world.store.db.deleteFrom('acme_challenges').execute();
  });

  it('a domain whose DNS is right gets a certificate over HTTP-01 and becomes active', async () => {
    await addDomain(world, 'shop', 'shop.acme.test');
    const domain = await waitForDomain(world, 'shop.acme.test', (d) => d.status !== 'pending-certificate');
    assert.equal(domain.status, 'active', `status_detail: ${domain.status_detail}\n${world.slipway.output()}`);
    assert.equal(domain.status_detail, null);
    const [row, ...others] = await certificateRows(world, ['shop.acme.test']);
    assert.ok(row !== undefined && others.length === 0, 'one certificate for the domain');
    const leaf = await assertIssued(world, row, ['shop.acme.test']);
    // renewal is scheduled inside the validity, at least 30 days before the end of pebble's long certificates
    const notAfter = Date.parse(leaf.validTo);
    assert.ok(row.renew_at !== null && Number(row.renew_at) < notAfter - 29 * 86_400_000 && Number(row.renew_at) > Date.now());
    // the answer was taken down after validation
    assert.deepEqual(await world.store.db.selectFrom('acme_challenges').selectAll().execute(), []);
    const orders = await world.store.db.selectFrom('acme_events').selectAll().where('kind', '=', 'order').where('name', '=', 'shop.acme.test').execute();
    assert.equal(orders.length, 1);
  });

  it('the account is one per installation and directory, its key encrypted at rest', async () => {
    const accounts = await world.store.db.selectFrom('acme_accounts').selectAll().execute();
    assert.equal(accounts.length, 1);
    const account = accounts[0]!;
    assert.equal(account.directory, world.pebble.directory);
    assert.match(account.account_url ?? '', /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(account.email, 'ops@acme.test');
    assert.doesNotMatch(account.key_enc, /BEGIN|PRIVATE KEY/);
    assert.match(world.box.decrypt(account.key_enc), /-----BEGIN PRIVATE KEY-----/);
  });

  it('the base domain gets <base> + *.<base> over DNS-01 through RFC 2136 updates to BIND, and the TXT records are removed after', async () => {
    const row = await waitForRows(world, ['sites.test', '*.sites.test']);
    await assertIssued(world, row, ['sites.test', '*.sites.test']);
    assert.deepEqual(dig(world, '_acme-challenge.sites.test'), []);
  });

  it("an ACME error lands in the domain's status_detail, and the domain is retried with backoff", async () => {
    // broken.acme.test points at 127.0.0.2, where nothing listens: pebble cannot connect
    await addDomain(world, 'broken', 'broken.acme.test');
    const failed = await waitForDomain(world, 'broken.acme.test', (d) => d.status !== 'pending-certificate');
    assert.equal(failed.status, 'error');
    assert.match(failed.status_detail ?? '', /broken\.acme\.test over http-01 failed: .*127\.0\.0\.2.*\(connection\)/i);
    assert.match(failed.status_detail ?? '', /Next attempt at \d{4}-/);
    const scheduled = await attempt(world, 'broken.acme.test');
    assert.ok(scheduled?.next_at != null && Number(scheduled.next_at) > Date.now() + 30_000, 'backoff: not retried at once');
    assert.equal(scheduled.failures, 1);
    const failures = await world.store.db.selectFrom('acme_events').selectAll().where('kind', '=', 'failed-validation').where('name', '=', 'broken.acme.test').execute();
    assert.equal(failures.length, 1);
    assert.deepEqual(await certificateRows(world, ['broken.acme.test']), []);

    // the user fixes DNS (now the zone's wildcard, 127.0.0.1, answers); when the retry is due it succeeds
    await world.dns.update(['update delete broken.acme.test A']);
    await world.store.db.updateTable('certificate_attempts').set({ next_at: Date.now() }).where('domain', '=', 'broken.acme.test').execute();
    const fixed = await waitForDomain(world, 'broken.acme.test', (d) => d.status === 'active');
    assert.equal(fixed.status_detail, null);
    assert.equal(await attempt(world, 'broken.acme.test'), undefined, 'the schedule is cleared once it worked');
    assert.equal((await certificateRows(world, ['broken.acme.test'])).length, 1);
  });

  it('a wildcard custom domain is issued over DNS-01', async () => {
    await addDomain(world, 'wild', '*.acme.test');
    const domain = await waitForDomain(world, '*.acme.test', (d) => d.status !== 'pending-certificate');
    assert.equal(domain.status, 'active', domain.status_detail ?? '');
    const [row] = await certificateRows(world, ['*.acme.test']);
    await assertIssued(world, row!, ['*.acme.test']);
  });

  it('over the failed-validations-per-hostname limit, the order is postponed and the status says so', async () => {
    const now = Date.now();
    const times = [50, 40, 30, 20, 10].map((minutes) => now - minutes * 60_000);
    await world.store.db
      .insertInto('acme_events')
      .values(times.map((at) => ({ kind: 'failed-validation' as const, name: 'limited.acme.test', at })))
      .execute();
    await addDomain(world, 'limited', 'limited.acme.test');
    const domain = await waitForDomain(world, 'limited.acme.test', (d) => d.status_detail !== null);
    assert.equal(domain.status, 'pending-certificate');
    assert.match(domain.status_detail!, /rate limit: 5 failed validations in the last hour for limited\.acme\.test .*next attempt at/);
    // the oldest failure leaves the one-hour window 10 minutes from now
    assert.ok(Math.abs(Number((await attempt(world, 'limited.acme.test'))?.next_at) - (times[0]! + 3_600_000)) < 1000);
    const orders = await world.store.db.selectFrom('acme_events').selectAll().where('kind', '=', 'order').where('name', '=', 'limited.acme.test').execute();
    assert.equal(orders.length, 0, 'nothing was asked of the CA');
  });

  it('over the new-orders-per-account limit, every order waits, and says until when', async () => {
    const now = Date.now();
    const before = await world.store.db.selectFrom('acme_events').select('at').where('kind', '=', 'order').execute();
    const padding = 300 - before.length;
    await world.store.db
      .insertInto('acme_events')
      .values(Array.from({ length: padding }, (_, i) => ({ kind: 'order' as const, name: `padding-${i}.example`, at: now - 60_000 })))
      .execute();
    await addDomain(world, 'many', 'many.acme.test');
    const domain = await waitForDomain(world, 'many.acme.test', (d) => d.status_detail !== null);
    assert.equal(domain.status, 'pending-certificate');
    assert.match(domain.status_detail!, /rate limit: 300 new orders in the last 3 hours \(Let's Encrypt allows 300 new orders per account per 3 hours\); next attempt at/);
    const oldest = Math.min(...before.map((r) => Number(r.at)), now - 60_000);
    assert.ok(Math.abs(Number((await attempt(world, 'many.acme.test'))?.next_at) - (oldest + 3 * 3_600_000)) < 1000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await domainRow(world, 'many.acme.test'))!.status, 'pending-certificate', 'still waiting: no order was made');
    assert.equal((await world.store.db.selectFrom('acme_events').select('id').where('kind', '=', 'order').execute()).length, 300);
  });
});

async function waitForRows(world: AcmeWorld, names: string[]) {
  const until = Date.now() + 60_000;
  for (;;) {
    const [row] = await certificateRows(world, names);
    if (row !== undefined) return row;
    if (Date.now() > until) throw new Error(`no certificate for ${names.join(', ')} within 60 s:\n${world.slipway.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
