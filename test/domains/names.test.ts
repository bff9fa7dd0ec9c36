import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acmeOn, expectedRecords, nextCheckDelay, normaliseDomainName, normaliseRedirectHost, statusAfterCheck } from '../../src/domains/index.js';
import { AppError } from '../../src/errors/index.js';

const norm = (name: unknown, base = 'localhost') => normaliseDomainName(name, base);

/** the refusal is a VALIDATION error whose message matches and which says what to send instead */
function refused(name: unknown, message: RegExp, base = 'localhost'): void {
  assert.throws(
    () => norm(name, base),
    (error: unknown) => {
      assert.ok(error instanceof AppError, String(error));
      assert.equal(error.code, 'VALIDATION');
      assert.equal(error.status, 400);
      assert.match(error.message, message);
      assert.match(error.hint ?? '', /example/i);
      return true;
    },
    `expected ${JSON.stringify(name)} to be refused`,
  );
}

test('names are lower-cased, lose their trailing dot and become punycode', () => {
  assert.deepEqual(norm('Shop.Example.COM'), { name: 'shop.example.com', wildcard: false });
  assert.deepEqual(norm('shop.example.com.'), { name: 'shop.example.com', wildcard: false });
  assert.deepEqual(norm('  www.example.com  '), { name: 'www.example.com', wildcard: false });
  assert.deepEqual(norm('bücher.example'), { name: 'xn--bcher-kva.example', wildcard: false });
  assert.deepEqual(norm('BÜCHER.Example.'), { name: 'xn--bcher-kva.example', wildcard: false });
  // already punycode stays as is; full-width letters map to their ASCII form (IDNA)
  assert.deepEqual(norm('xn--bcher-kva.example'), { name: 'xn--bcher-kva.example', wildcard: false });
  assert.deepEqual(norm('ＥＸＡＭＰＬＥ.com'), { name: 'example.com', wildcard: false });
});

test('a wildcard is "*." as the whole first label, and nowhere else', () => {
  assert.deepEqual(norm('*.Example.com'), { name: '*.example.com', wildcard: true });
  assert.deepEqual(norm('*.bücher.example.'), { name: '*.xn--bcher-kva.example', wildcard: true });
  refused('a*.example.com', /"\*" only as its whole first label/);
  refused('www.*.example.com', /"\*" only as its whole first label/);
  refused('*.*.example.com', /"\*" only as its whole first label/);
  refused('*example.com', /"\*" only as its whole first label/);
  refused('*.com', /at least two labels/);
  // a redirect target is one host, never a wildcard
  assert.throws(() => normaliseRedirectHost('*.example.com'), /cannot be a wildcard/);
  assert.equal(normaliseRedirectHost('Example.COM.'), 'example.com');
});

test('IP addresses are refused, however they are spelt', () => {
  for (const ip of ['127.0.0.1', '203.0.113.7', '::1', '[2001:db8::1]', '1.2.3', '0x7f.1']) refused(ip, /not an IP address/);
});

test("names at or under the base domain are refused: they would take projects' hosts", () => {
  refused('blog.localhost', /under the base domain localhost/);
  refused('localhost.', /under the base domain localhost/, 'localhost');
  refused('*.localhost', /under the base domain localhost/);
  refused('Shop.Sites.Example.com', /under the base domain sites\.example\.com/, 'sites.example.com');
  refused('sites.example.com', /under the base domain/, 'sites.example.com');
  // a name that only ends with the same letters is someone else's
  assert.equal(norm('mysites.example.com', 'sites.example.com').name, 'mysites.example.com');
  assert.equal(norm('example.com', 'sites.example.com').name, 'example.com');
});

test('malformed names say what is wrong', () => {
  refused('', /must be a host name/);
  refused(42, /must be a host name/);
  refused('https://example.com/', /without a scheme or path/);
  refused('example.com/shop', /without a scheme or path/);
  refused('example.com:8080', /without a port/);
  refused('intranet', /at least two labels/);
  refused('a..example.com', /empty label/);
  refused('-shop.example.com', /label "-shop"/);
  refused('shop_1.example.com', /label "shop_1"/);
  refused('exa mple.com', /not a valid host name/);
  refused(`${'a'.repeat(64)}.example.com`, /longer than 63/);
  assert.equal(norm(`${'a'.repeat(63)}.example.com`).name.length, 75);
  const long = Array.from({ length: 5 }, () => 'b'.repeat(50)).join('.'); // 254 characters
  refused(long, /at most 253/);
  assert.equal(norm(long.slice(1)).name.length, 253);
});

test('status: right DNS is active, or pending-certificate with ACME on; a failed lookup changes nothing', () => {
  const right = { ok: true };
  const wrong = { ok: false };
  const failed = { ok: undefined };
  assert.equal(statusAfterCheck('pending-dns', right, false), 'active');
  assert.equal(statusAfterCheck('pending-dns', right, true), 'pending-certificate');
  // what the ACME loop set stays while DNS is right
  assert.equal(statusAfterCheck('error', right, true), 'error');
  assert.equal(statusAfterCheck('active', right, true), 'active');
  assert.equal(statusAfterCheck('pending-certificate', right, false), 'active');
  for (const s of ['active', 'pending-certificate', 'error'] as const) {
    assert.equal(statusAfterCheck(s, wrong, true), 'pending-dns');
    assert.equal(statusAfterCheck(s, failed, true), s);
  }
  assert.equal(acmeOn({ httpsPort: 443, acme: { directory: 'https://acme.example/dir', email: undefined, caFile: undefined } }), true);
  assert.equal(acmeOn({ httpsPort: undefined, acme: { directory: 'https://acme.example/dir', email: undefined, caFile: undefined } }), false);
  assert.equal(acmeOn({ httpsPort: 443, acme: { directory: undefined, email: undefined, caFile: undefined } }), false);
});

test('backoff: 15 s doubling to an hour while DNS is wrong; right domains rarely', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 8, 20].map((n) => nextCheckDelay('pending-dns', n) / 1000),
    [15, 30, 60, 120, 240, 1920, 3600],
  );
  assert.equal(nextCheckDelay('active', 0), 6 * 3600_000);
  assert.equal(nextCheckDelay('pending-certificate', 0), 3600_000);
});

test('the records to create: all public IPs, or the CNAME; an apex cannot take a CNAME', () => {
  const both = expectedRecords({ publicIps: ['203.0.113.7', '2001:db8::7'], cnameTarget: 'edge.example.net' }, 'shop.example.com', false);
  assert.deepEqual(both.addresses, [
    { type: 'A', name: 'shop.example.com', value: '203.0.113.7' },
    { type: 'AAAA', name: 'shop.example.com', value: '2001:db8::7' },
  ]);
  assert.deepEqual(both.cname, { type: 'CNAME', name: 'shop.example.com', value: 'edge.example.net' });
  assert.equal(both.anyOne, false);
  const apex = expectedRecords({ publicIps: [], cnameTarget: 'edge.example.net' }, 'example.com', true);
  assert.equal(apex.cname, null);
  assert.match(apex.notes.join(' '), /zone apex, which cannot take a CNAME.*ALIAS/);
  const local = expectedRecords({ publicIps: [], cnameTarget: undefined }, 'shop.example.com', false);
  assert.equal(local.anyOne, true);
  assert.match(local.notes.join(' '), /--public-ip/);
});
