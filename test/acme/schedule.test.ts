import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { backoffMs, LIMITS, parseRetryAfter, rateLimitWait, renewAt } from '../../src/acme/index.js';
import { loadConfig } from '../../src/config/index.js';
import { forEachBackend } from '../helpers/backends.js';

const DAY = 86_400_000;

describe('renewal schedule', () => {
  it('a 90-day certificate renews 30 days before expiry, up to a day earlier with jitter', () => {
    const nb = Date.UTC(2026, 0, 1);
    const na = nb + 90 * DAY;
    assert.equal(renewAt(nb, na, 0), na - 30 * DAY);
    assert.equal(renewAt(nb, na, 1), na - 31 * DAY);
    const spread = new Set(Array.from({ length: 20 }, () => renewAt(nb, na)));
    assert.ok(spread.size > 10, 'jitter spreads certificates issued together');
  });

  it('a short certificate renews a third of its lifetime before expiry (the later of the two)', () => {
    const nb = 1_000_000;
    assert.equal(renewAt(nb, nb + 6 * DAY, 0), nb + 4 * DAY);
    assert.equal(renewAt(nb, nb + 30_000, 0), nb + 20_000);
    assert.equal(renewAt(nb, nb + 30_000, 1), nb + 20_000 - 1500);
  });

  it('backoff doubles from the base up to the cap', () => {
    assert.equal(backoffMs(1, 60_000, 3_600_000, 0.5), 60_000);
    assert.equal(backoffMs(3, 60_000, 3_600_000, 0.5), 240_000);
    assert.equal(backoffMs(30, 60_000, 3_600_000, 0.5), 3_600_000);
    assert.ok(backoffMs(2, 60_000, 3_600_000, 0) < backoffMs(2, 60_000, 3_600_000, 1));
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('120', 1000), 121_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', 0), Date.UTC(2026, 9, 21, 7, 28));
    assert.equal(parseRetryAfter('soon', 0), undefined);
    assert.equal(parseRetryAfter(undefined, 0), undefined);
  });
});

forEachBackend("Let's Encrypt's limits, counted in acme_events", (backend) => {
  it('under the limits nothing waits; at 300 orders in 3 hours or 5 failures per host in an hour, until enough age out', async () => {
    const opened = await backend.open();
    const store = opened.store;
    try {
      const now = Date.now();
      const db = store.db;
      await db
        .insertInto('acme_events')
        .values({ kind: 'order', name: 'old.example', at: now - 4 * 3_600_000 })
        .execute();
      await db
        .insertInto('acme_events')
        .values({ kind: 'failed-validation', name: 'a.example', at: now - 2 * 3_600_000 })
        .execute();
      await db
        .insertInto('acme_events')
        .values(Array.from({ length: 4 }, (_, i) => ({ kind: 'failed-validation' as const, name: 'a.example', at: now - (40 - i) * 60_000 })))
        .execute();
      assert.equal(await rateLimitWait(db, ['a.example'], now), undefined, '4 in the last hour: fine');
      await db
        .insertInto('acme_events')
        .values({ kind: 'failed-validation', name: 'a.example', at: now - 5 * 60_000 })
        .execute();
      const wait = await rateLimitWait(db, ['a.example', 'b.example'], now);
      assert.equal(wait?.until, now - 40 * 60_000 + LIMITS['failed-validation'].windowMs);
      assert.equal(await rateLimitWait(db, ['b.example'], now), undefined, 'per hostname');
      // a wildcard is validated as its base name
      assert.notEqual(await rateLimitWait(db, ['*.a.example'], now), undefined);

      await db
        .insertInto('acme_events')
        .values(Array.from({ length: 300 }, (_, i) => ({ kind: 'order' as const, name: `n${i}`, at: now - 3 * 3_600_000 + 60_000 + i })))
        .execute();
      const orders = await rateLimitWait(db, ['c.example'], now);
      assert.equal(orders?.until, now + 60_000);
      assert.match(orders!.reason, /300 new orders in the last 3 hours/);
      // events past the longest window are dropped
      assert.equal(
        (
          await db
            .selectFrom('acme_events')
            .select('id')
            .where('at', '<', now - 3 * 3_600_000)
            .execute()
        ).length,
        0,
      );
    } finally {
      await opened.cleanup();
    }
  });
});

describe('ACME flags', () => {
  const secret = randomBytes(32).toString('base64');
  it("defaults: Let's Encrypt production, HTTP-01, no DNS-01", () => {
    const c = loadConfig({}, {});
    assert.equal(c.acme.directory, 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(c.acme.challenge, 'http-01');
    assert.equal(c.acme.dns01, undefined);
    assert.equal(loadConfig({ 'acme-directory': 'staging' }, {}).acme.directory, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  });
  it('DNS-01 over RFC 2136 with the secret from the environment', () => {
    const c = loadConfig({ 'dns01-server': '192.0.2.53:5353', 'dns01-tsig-name': 'acme-key', 'acme-challenge': 'tls-alpn-01' }, { SLIPWAY_DNS01_TSIG_SECRET: secret });
    assert.deepEqual(c.acme.dns01, { server: '192.0.2.53:5353', zone: undefined, tsig: { name: 'acme-key', algorithm: 'hmac-sha256', secret } });
    assert.equal(c.acme.challenge, 'tls-alpn-01');
  });
  it('bad values stop with an example', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ 'acme-challenge': 'dns-01' }, /--acme-challenge is http-01 or tls-alpn-01/],
      [{ 'dns01-server': '192.0.2.53' }, /needs a TSIG key/],
      [{ 'dns01-tsig-name': 'k' }, /need --dns01-server/],
      [{ 'dns01-server': '192.0.2.53', 'dns01-tsig-name': 'k', 'dns01-tsig-secret': 'not base64!' }, /base64 secret/],
      [{ 'dns01-server': '192.0.2.53', 'dns01-tsig-name': 'k', 'dns01-tsig-secret': secret, 'dns01-tsig-algorithm': 'hmac-md5' }, /hmac-sha256/],
      [{ 'dns01-server': 'a b', 'dns01-tsig-name': 'k', 'dns01-tsig-secret': secret }, /host:port/],
    ];
    for (const [flags, message] of bad)
      assert.throws(
        () => loadConfig(flags, {}),
        (e: Error & { code?: string; hint?: string }) => e.code === 'CONFIG' && message.test(e.message) && (e.hint ?? '') !== '',
      );
  });
});
