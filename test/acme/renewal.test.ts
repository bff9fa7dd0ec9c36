import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { waitFor } from '../helpers/slipway.js';
import { acmeTestSkip, addDomain, assertIssued, certificateRows, startAcmeWorld, waitForDomain, type AcmeWorld } from './harness.js';

const skip = acmeTestSkip();
if (skip !== false) console.log(`# skipping ACME renewal tests: ${skip}`);

/**
 * pebble 2.4 takes certificateValidityPeriod (seconds): certificates that live a minute, so the
 * renewal starts ~20 s before expiry, margin enough to issue and load the new one on a loaded machine.
 */
const VALIDITY_S = 60;

describe('short-lived certificates renew by themselves (pebble issuing one-minute certificates)', { skip }, () => {
  let world: AcmeWorld;
  before(async () => {
    world = await startAcmeWorld({ validitySeconds: VALIDITY_S });
  });
  after(async () => world?.close());

  let first: Awaited<ReturnType<typeof certificateRows>>[number];
  it('renewal is scheduled a third of the lifetime before expiry (less a jitter of at most a twentieth)', async () => {
    await addDomain(world, 'renew', 'renew.acme.test');
    const domain = await waitForDomain(world, 'renew.acme.test', (d) => d.status !== 'pending-certificate');
    assert.equal(domain.status, 'active', domain.status_detail ?? '');
    const [row] = await certificateRows(world, ['renew.acme.test']);
    assert.ok(row !== undefined);
    first = row;
    await assertIssued(world, first, ['renew.acme.test']);
    const notBefore = Number(first.not_before);
    const notAfter = Number(first.not_after);
    const lifetime = notAfter - notBefore;
    assert.ok(lifetime <= (VALIDITY_S + 60) * 1000, `pebble issued a short certificate (lifetime ${lifetime} ms)`);
    const renewAt = Number(first.renew_at);
    assert.ok(renewAt <= notAfter - lifetime / 3 + 1 && renewAt >= notAfter - lifetime / 3 - lifetime / 20 - 1, `renew_at ${renewAt - notBefore} ms after notBefore`);
  });

  it('a new certificate replaces the old one before it expires, and the domain stays active', async () => {
    // with an HTTPS listener: handshakes all through the renewal, none failing, until the edge serves the new one
    // (from the moment every edge process serves the first certificate: issued is not yet loaded by
    // each of them; 12 handshakes in a row, spread over the processes by the kernel, all get it)
    if (world.hasHttps) {
      const serial = new X509Certificate(first.cert_pem).serialNumber;
      const servedByAll = async () => {
        for (let i = 0; i < 12; i++) if ((await servedSerial(world, 'renew.acme.test')) !== serial) return undefined;
        return true;
      };
      await waitFor('every edge process to serve the first certificate', servedByAll, 10_000, 100);
    }
    const probe = world.hasHttps ? probeHandshakes(world, 'renew.acme.test') : undefined;
    const renewed = await waitFor(
      'the renewed certificate',
      async () => {
        const rows = await certificateRows(world, ['renew.acme.test']);
        return rows.length === 1 && rows[0]!.id !== first.id ? rows[0] : undefined;
      },
      (VALIDITY_S + 15) * 1000,
      250,
    );
    assert.ok(Date.now() < Number(first.not_after), 'renewed before the old one expired');
    assert.ok(Number(renewed.not_after) > Number(first.not_after));
    await assertIssued(world, renewed, ['renew.acme.test']);
    const domain = await waitForDomain(world, 'renew.acme.test', () => true);
    assert.equal(domain.status, 'active');
    assert.equal(domain.status_detail, null);
    if (probe !== undefined) {
      const serial = new X509Certificate(renewed.cert_pem).serialNumber;
      await waitFor('the edge to serve the renewed certificate', async () => (probe.serials.has(serial) ? true : undefined), 10_000, 100);
      probe.stop();
      assert.deepEqual(probe.errors, [], 'no failed handshake across the switch');
      assert.ok(probe.serials.has(new X509Certificate(first.cert_pem).serialNumber), 'the old certificate was served before');
    }
    first = renewed;
  });

  it('a failed renewal keeps the current certificate and says so in the domain status', async () => {
    // the name now points where nothing answers: the next renewal's validation fails
    await world.dns.update(['update add renew.acme.test 5 A 127.0.0.2']);
    const domain = await waitForDomain(world, 'renew.acme.test', (d) => d.status_detail !== null, (VALIDITY_S + 15) * 1000);
    assert.equal(domain.status, 'active');
    assert.match(
      domain.status_detail!,
      /^Renewing the certificate failed: Validation of renew\.acme\.test over http-01 failed: .*Still serving the current certificate, valid until \d{4}-.*; next attempt at \d{4}-/,
    );
    const [row, ...others] = await certificateRows(world, ['renew.acme.test']);
    assert.equal(others.length, 0);
    assert.equal(row!.id, first.id, 'the old certificate is still the one stored');
    assert.equal(row!.renew_failures, 1);
    assert.match(row!.last_error ?? '', /renew\.acme\.test/);
    assert.ok(Number(row!.renew_at) > Date.now() + 30_000, 'retried with backoff, not at once');
  });
});

/** TLS handshakes to the edge's HTTPS port with SNI, one after another, verified against pebble's root. */
/** The serial of the certificate one handshake gets for `servername` (undefined: the handshake failed). */
async function servedSerial(world: AcmeWorld, servername: string): Promise<string | undefined> {
  const ca = await world.pebble.issuingRoot();
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: world.httpsPort, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const serial = new X509Certificate(socket.getPeerX509Certificate()!.raw).serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', () => resolve(undefined));
  });
}

function probeHandshakes(world: AcmeWorld, servername: string): { serials: Set<string>; errors: string[]; stop(): void } {
  const serials = new Set<string>();
  const errors: string[] = [];
  let stopped = false;
  void (async () => {
    const ca = await world.pebble.issuingRoot();
    while (!stopped) {
      await new Promise<void>((resolve) => {
        let done = false;
        const socket = connect({ host: '127.0.0.1', port: world.httpsPort, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
          done = true;
          serials.add(new X509Certificate(socket.getPeerX509Certificate()!.raw).serialNumber);
          socket.end();
          resolve();
        });
        socket.on('error', (error) => {
          // what happens after a completed handshake (a reset while closing) is not a failed handshake
          if (!done) errors.push(error.message);
          done = true;
          resolve();
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { serials, errors, stop: () => (stopped = true) };
}
