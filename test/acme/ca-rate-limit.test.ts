import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCertificateManager } from '../../src/acme/index.js';
import { loadConfig } from '../../src/config/index.js';
import { SecretBox } from '../../src/secrets.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';

/**
 * Pebble has no rate limits, so this CA is a small HTTP server that speaks just enough ACME
 * (directory, nonces) to answer every account request the way Let's Encrypt answers one over
 * its limit: 429, a rateLimited problem document and Retry-After.
 */
function startRateLimitedCa(retryAfterSeconds: number): Promise<{ server: Server; directory: string; accountRequests: () => number }> {
  let accountRequests = 0;
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.setHeader('Replay-Nonce', randomBytes(16).toString('base64url'));
    if (req.url === '/dir') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order` }));
      return;
    }
    if (req.url === '/nonce') {
      res.end();
      return;
    }
    req.resume();
    req.on('end', () => {
      accountRequests += 1;
      res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': String(retryAfterSeconds) });
      res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new registrations from this IP', status: 429 }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, directory: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir`, accountRequests: () => accountRequests })),
  );
}

describe("the CA's own rate limit (429 rateLimited with Retry-After)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: Store;
  let ca: Awaited<ReturnType<typeof startRateLimitedCa>>;
  before(async () => {
    dir = await tempDir('slipway-acme-ratelimit-');
    store = await Store.openSqlite(join(dir.path, 'slipway.db'));
    ca = await startRateLimitedCa(3600);
  });
  after(async () => {
    await new Promise((resolve) => ca?.server.close(resolve));
    await store?.close();
    await dir?.cleanup();
  });

  it('postpones the domain until Retry-After, says so, and does not sleep on it or ask again', async () => {
    const now = Date.now();
    await store.db
      .insertInto('projects')
      .values({ id: 'p1', name: 'site', repo_url: 'https://git.example/site.git', production_branch: 'main', webhook_secret: 'x', created_at: now } as never)
      .execute();
    await store.db
      .insertInto('domains')
      .values({
        name: 'site.example.com',
        project_id: 'p1',
        environment: 'production',
        redirect_to: null,
        redirect_status: null,
        status: 'pending-certificate',
        status_detail: null,
        dns_checked_at: now,
        next_check_at: null,
        check_failures: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const config = loadConfig({ 'acme-directory': ca.directory, 'https-port': '0' }, {});
    const logs: string[] = [];
    const manager = startCertificateManager({ db: store.db, box: new SecretBox(randomBytes(32)), config, pollMs: 60_000, log: (m) => logs.push(m) });
    try {
      const started = Date.now();
      await manager.runOnce();
      assert.ok(Date.now() - started < 10_000, 'no client-side wait for the Retry-After hour');
      const domain = await store.db.selectFrom('domains').selectAll().where('name', '=', 'site.example.com').executeTakeFirstOrThrow();
      assert.equal(domain.status, 'pending-certificate');
      assert.match(domain.status_detail ?? '', /^Postponed by the CA's rate limit: Registering the ACME account: too many new registrations from this IP \(rateLimited\); next attempt at/);
      const scheduled = await store.db.selectFrom('certificate_attempts').selectAll().where('domain', '=', 'site.example.com').executeTakeFirstOrThrow();
      assert.ok(Math.abs(Number(scheduled.next_at) - (started + 3_600_000)) < 10_000, 'next attempt when the CA said');
      const asked = ca.accountRequests();
      assert.ok(asked >= 1);
      await manager.runOnce();
      assert.equal(ca.accountRequests(), asked, 'not asked again before Retry-After');
    } finally {
      await manager.close();
    }
  });

  it('an unreachable CA is an error on the domain that names the address, retried with backoff', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const now = Date.now();
    await store.db
      .insertInto('domains')
      .values({
        name: 'down.example.com',
        project_id: 'p1',
        environment: 'production',
        redirect_to: null,
        redirect_status: null,
        status: 'pending-certificate',
        status_detail: null,
        dns_checked_at: now,
        next_check_at: null,
        check_failures: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await store.db.updateTable('domains').set({ status: 'active' }).where('name', '=', 'site.example.com').execute();
    const config = loadConfig({ 'acme-directory': `http://127.0.0.1:${closed}/dir`, 'https-port': '0' }, {});
    const manager = startCertificateManager({ db: store.db, box: new SecretBox(randomBytes(32)), config, pollMs: 60_000, log: () => undefined });
    try {
      await manager.runOnce();
      const domain = await store.db.selectFrom('domains').selectAll().where('name', '=', 'down.example.com').executeTakeFirstOrThrow();
      assert.equal(domain.status, 'error');
      assert.match(domain.status_detail ?? '', new RegExp(`cannot reach http://127\\.0\\.0\\.1:${closed}/dir: ECONNREFUSED.* Next attempt at`));
      const scheduled = await store.db.selectFrom('certificate_attempts').selectAll().where('domain', '=', 'down.example.com').executeTakeFirstOrThrow();
      assert.ok(Number(scheduled.next_at) > Date.now() + 30_000);
      assert.equal(scheduled.failures, 1);
    } finally {
      await manager.close();
    }
  });
});
