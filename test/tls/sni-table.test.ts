import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, test } from 'node:test';
import type { LoadedCertificate } from '../../src/tls/certificates.js';
import { ticketKeys, TICKET_KEY_PERIOD_MS } from '../../src/tls/session-tickets.js';
import { SniTable } from '../../src/tls/sni-table.js';
import { makeTestCa, type TestCa } from './certs.js';

let ca: TestCa;
before(async () => {
  ca = await makeTestCa();
});

async function cert(names: string[], days = 30, id = names.join(',') + days): Promise<LoadedCertificate> {
  const made = await ca.issue(names, { days });
  const leaf = new X509Certificate(made.certPem);
  return { id, names, source: 'acme', ...made, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), renewAt: null, renewFailures: 0, lastError: null };
}

test('the table serves the certificate valid longest, skips expired ones, and says when to look again', async () => {
  const table = new SniTable();
  const shorter = await cert(['a.test'], 10);
  const longer = await cert(['a.test'], 60);
  const wildcard = await cert(['*.a.test'], 20);
  table.setStored([shorter, longer, wildcard], []);
  assert.notEqual(table.contextFor('a.test'), undefined);
  assert.equal(table.contextFor('a.test'), table.contextFor('a.test'), 'one context per certificate, reused');
  assert.equal(table.nextExpiry, shorter.notAfter, 'rebuilt when the first certificate in it expires');
  assert.ok(table.covers('x.a.test') && !table.covers('y.x.a.test') && !table.covers('b.test'));

  // a month later only the 60-day certificate is valid
  table.setStored([shorter, longer, wildcard], [], Date.now() + 31 * 86_400_000);
  assert.ok(table.covers('a.test'));
  assert.equal(table.covers('x.a.test'), false, 'the expired wildcard is gone');
  assert.equal(table.nextExpiry, longer.notAfter);
});

test('session ticket keys: the same in every process for a day, another the next day, another for another platform key', () => {
  const key = Buffer.alloc(32, 1);
  const noon = Math.floor(Date.now() / TICKET_KEY_PERIOD_MS) * TICKET_KEY_PERIOD_MS + TICKET_KEY_PERIOD_MS / 2;
  assert.equal(ticketKeys(key, noon).length, 48);
  assert.deepEqual(ticketKeys(key, noon), ticketKeys(Buffer.alloc(32, 1), noon + 3_600_000));
  assert.notDeepEqual(ticketKeys(key, noon), ticketKeys(key, noon + TICKET_KEY_PERIOD_MS));
  assert.notDeepEqual(ticketKeys(key, noon), ticketKeys(Buffer.alloc(32, 2), noon));
});
