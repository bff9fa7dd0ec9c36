import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startBind, type RunningBind } from '../helpers/bind.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { startSlipwayProcess, TOKEN, waitFor, type RunningSlipway } from '../helpers/slipway.js';

const run = promisify(execFile);

// The domain API, its DNS check against a real BIND the test starts and changes with RFC 2136
// updates, and the CLI, against an api-only `slipway up` told its public address and CNAME target.
let dir: Awaited<ReturnType<typeof tempDir>>;
let dns: RunningBind | undefined;
let slipway: RunningSlipway;
let skip: string | false = false;

before(async () => {
  dir = await tempDir();
  try {
    dns = await startBind([{ name: 'example.test', records: [{ name: 'edge', type: 'A', value: '127.0.0.1' }] }]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    skip = 'named (BIND 9) is not installed';
    console.log(`# skipping: ${skip}`);
    return;
  }
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api', '--public-ip', '127.0.0.1', '--cname-target', 'Edge.Example.Test.'], {
    SLIPWAY_DNS_SERVERS: dns.address,
    // no HTTPS here: a domain whose DNS is right is active at once
    SLIPWAY_HTTPS_PORT: 'off',
    SLIPWAY_ACME_DIRECTORY: 'off',
  });
  for (const name of ['shop', 'blog']) assert.equal((await slipway.api('POST', '/api/v1/projects', { name, repoUrl: 'https://example.com/repo.git' })).status, 201);
});

after(async () => {
  await slipway?.stop();
  await dns?.close();
  await dir?.cleanup();
});

const domains = (project: string, path = '') => `/api/v1/projects/${project}/domains${path}`;

test('add, show, list and remove a domain; names are normalised', { skip }, async () => {
  const added = await slipway.api('POST', domains('shop'), { name: 'Shop.Example.Test.' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.name, 'shop.example.test');
  assert.equal(added.body.project, 'shop');
  assert.equal(added.body.environment, 'production');
  assert.equal(added.body.redirect, null);
  assert.equal(added.body.status, 'pending-dns');
  assert.equal(added.body.statusDetail, 'shop.example.test has no A, AAAA or CNAME record yet.');
  // the exact records to create: an A to --public-ip, or a CNAME to --cname-target
  assert.deepEqual(added.body.dns.addresses, [{ type: 'A', name: 'shop.example.test', value: '127.0.0.1' }]);
  assert.deepEqual(added.body.dns.cname, { type: 'CNAME', name: 'shop.example.test', value: 'edge.example.test' });
  assert.match(added.body.todo, /create A shop\.example\.test -> 127\.0\.0\.1, or create CNAME shop\.example\.test -> edge\.example\.test/);
  assert.ok(Date.parse(added.body.dns.nextCheckAt) > Date.parse(added.body.dns.checkedAt));

  const unicode = await slipway.api('POST', domains('shop'), { name: 'BÜCHER.example.test' });
  assert.equal(unicode.status, 201);
  assert.equal(unicode.body.name, 'xn--bcher-kva.example.test');

  // the URL may name it as typed, too
  const shown = await slipway.api('GET', domains('shop', `/${encodeURIComponent('bücher.Example.test.')}`));
  assert.equal(shown.status, 200);
  assert.equal(shown.body.name, 'xn--bcher-kva.example.test');
  const list = await slipway.api('GET', domains('shop'));
  assert.deepEqual(
    list.body.domains.map((d: { name: string }) => d.name),
    ['shop.example.test', 'xn--bcher-kva.example.test'],
  );
  assert.deepEqual((await slipway.api('GET', domains('blog'))).body, { domains: [], nextCursor: null });

  // another project's domain is not found through this one
  const foreign = await slipway.api('GET', domains('blog', '/shop.example.test'));
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error.code, 'DOMAIN_NOT_FOUND');
  assert.match(foreign.body.error.hint, /slipway domains ls blog/);
  assert.equal((await slipway.api('DELETE', domains('blog', '/shop.example.test'))).status, 404);

  assert.equal((await slipway.api('DELETE', domains('shop', '/xn--bcher-kva.example.test'))).status, 204);
  const gone = await slipway.api('GET', domains('shop', '/xn--bcher-kva.example.test'));
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.code, 'DOMAIN_NOT_FOUND');
  const noProject = await slipway.api('GET', domains('nope'));
  assert.equal(noProject.status, 404);
  assert.equal(noProject.body.error.code, 'PROJECT_NOT_FOUND');
});

test('one domain belongs to one project: adding it again is a 409 naming the owner', { skip }, async () => {
  assert.equal((await slipway.api('POST', domains('shop'), { name: 'taken.example.test' })).status, 201);
  const again = await slipway.api('POST', domains('shop'), { name: 'TAKEN.example.test' });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'DOMAIN_TAKEN');
  assert.match(again.body.error.message, /already a domain of project "shop"/);
  const elsewhere = await slipway.api('POST', domains('blog'), { name: 'taken.example.test.' });
  assert.equal(elsewhere.status, 409);
  assert.equal(elsewhere.body.error.message, 'taken.example.test already belongs to project "shop".');
  assert.equal(elsewhere.body.error.hint, 'Remove it there first: slipway domains rm shop taken.example.test');
  assert.deepEqual((await slipway.api('GET', domains('blog'))).body, { domains: [], nextCursor: null });

  // two projects asking at once (both pass the first look, then meet in the insert's transaction)
  const [a, b] = await Promise.all([slipway.api('POST', domains('shop'), { name: 'race.example.test' }), slipway.api('POST', domains('blog'), { name: 'race.example.test' })]);
  assert.deepEqual([a.status, b.status].sort(), [201, 409]);
  const loser = a.status === 409 ? a : b;
  const winner = a.status === 201 ? 'shop' : 'blog';
  assert.equal(loser.body.error.message, `race.example.test already belongs to project "${winner}".`);
});

test('bad input is a 400 that says what to send', { skip }, async () => {
  const cases: [unknown, RegExp][] = [
    [{ name: '127.0.0.1' }, /not an IP address/],
    [{ name: 'blog.localhost' }, /under the base domain localhost/],
    [{ name: 'a*.example.test' }, /"\*" only as its whole first label/],
    [{ name: 'https://example.test/' }, /without a scheme or path/],
    [{}, /name must be a host name/],
    [{ name: 'r.example.test', redirectTo: '*.example.test' }, /redirectTo cannot be a wildcard/],
    [{ name: 'r.example.test', redirectTo: 'R.example.test' }, /redirected forever/],
    [{ name: 'r.example.test', redirectTo: 'example.test', redirectStatus: 303 }, /redirectStatus must be 301, 302, 307 or 308/],
    [{ name: 'r.example.test', redirectStatus: 301 }, /redirectStatus goes with redirectTo/],
    [{ name: 'r.example.test', environment: 'preview' }, /environment must be "production"/],
    [{ name: 'r.example.test', color: 'red' }, /Unknown field "color"/],
    ['"just a string"', /must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const res = await slipway.api('POST', domains('shop'), body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error.message, message, JSON.stringify(body));
    assert.equal(typeof res.body.error.hint, 'string', JSON.stringify(body));
    assert.ok(res.body.error.hint.length > 10);
  }
  // none of them was stored
  assert.ok(!(await slipway.api('GET', domains('shop'))).body.domains.some((d: { name: string }) => d.name.startsWith('r.')));
  const redirect = await slipway.api('POST', domains('shop'), { name: 'www.example.test', redirectTo: 'Example.test' });
  assert.equal(redirect.status, 201);
  assert.deepEqual(redirect.body.redirect, { to: 'example.test', status: 308 });
});

test('the DNS check: pending-dns until the record exists, then active on verify', { skip }, async () => {
  assert.equal((await slipway.api('POST', domains('shop'), { name: 'go.example.test' })).status, 201);
  // a record to somewhere else is named as the problem
  await dns!.update(['update add go.example.test 5 A 192.0.2.1']);
  const wrong = await slipway.api('POST', domains('shop', '/go.example.test/verify'));
  assert.equal(wrong.status, 200);
  assert.equal(wrong.body.status, 'pending-dns');
  assert.match(wrong.body.statusDetail, /resolves to 192\.0\.2\.1, but 192\.0\.2\.1 is not this installation's address/);
  assert.deepEqual(wrong.body.dns.seen.addresses, ['192.0.2.1']);

  await dns!.update(['update delete go.example.test A', 'update add go.example.test 5 A 127.0.0.1']);
  const right = await slipway.api('POST', domains('shop', '/go.example.test/verify'));
  assert.equal(right.body.status, 'active', JSON.stringify(right.body));
  assert.match(right.body.statusDetail, /resolves to 127\.0\.0\.1/);
  assert.equal(right.body.dns.failedChecks, 0);
  // an active domain is looked at again only in hours
  assert.ok(Date.parse(right.body.dns.nextCheckAt) - Date.now() > 3 * 3600_000);
  assert.equal((await slipway.api('GET', domains('shop', '/go.example.test'))).body.status, 'active');

  // the record goes away: back to pending-dns
  await dns!.update(['update delete go.example.test A']);
  assert.equal((await slipway.api('POST', domains('shop', '/go.example.test/verify'))).body.status, 'pending-dns');
});

test('a CNAME to --cname-target is right; an apex is told it cannot take one', { skip }, async () => {
  assert.equal((await slipway.api('POST', domains('shop'), { name: 'alias.example.test' })).body.status, 'pending-dns');
  await dns!.update(['update add alias.example.test 5 CNAME edge.example.test.']);
  const verified = await slipway.api('POST', domains('shop', '/alias.example.test/verify'));
  assert.equal(verified.body.status, 'active', JSON.stringify(verified.body));
  assert.equal(verified.body.statusDetail, 'alias.example.test has a CNAME to edge.example.test.');

  const apex = await slipway.api('POST', domains('blog'), { name: 'example.test' });
  assert.equal(apex.status, 201);
  assert.equal(apex.body.status, 'pending-dns');
  assert.equal(apex.body.dns.seen.apex, true);
  assert.equal(apex.body.dns.cname, null);
  assert.match(apex.body.dns.notes.join(' '), /example\.test is a zone apex, which cannot take a CNAME/);
  assert.deepEqual(apex.body.dns.addresses, [{ type: 'A', name: 'example.test', value: '127.0.0.1' }]);
});

test('a wildcard domain is checked through a name under it', { skip }, async () => {
  const added = await slipway.api('POST', domains('blog'), { name: '*.Apps.example.test' });
  assert.equal(added.status, 201);
  assert.equal(added.body.name, '*.apps.example.test');
  assert.equal(added.body.wildcard, true);
  assert.equal(added.body.status, 'pending-dns');
  assert.deepEqual(added.body.dns.addresses, [{ type: 'A', name: '*.apps.example.test', value: '127.0.0.1' }]);
  await dns!.update(['update add *.apps.example.test 5 A 127.0.0.1']);
  const verified = await slipway.api('POST', domains('blog', `/${encodeURIComponent('*.apps.example.test')}/verify`));
  assert.equal(verified.body.status, 'active', JSON.stringify(verified.body));
});

test('pending domains are rechecked in the background', { skip }, async () => {
  const added = await slipway.api('POST', domains('blog'), { name: 'later.example.test' });
  assert.equal(added.body.status, 'pending-dns');
  // the first recheck is 15 s after the failed one
  const wait = Date.parse(added.body.dns.nextCheckAt) - Date.now();
  assert.ok(wait > 10_000 && wait <= 15_000, String(wait));
  await dns!.update(['update add later.example.test 5 A 127.0.0.1']);
  const active = await waitFor(
    'the background check to see the record',
    async () => {
      const { body } = await slipway.api('GET', domains('blog', '/later.example.test'));
      return body.status === 'active' ? body : undefined;
    },
    30_000,
    500,
  );
  assert.equal(active.dns.failedChecks, 0);
});

test('the CLI adds a domain and prints the record to create, verifies, lists and removes it', { skip }, async () => {
  const cli = async (...args: string[]) => {
    const env = { ...process.env, SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN };
    try {
      const { stdout } = await run(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), 'domains', ...args], { env, timeout: 30_000 });
      return { code: 0, out: stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: `${e.stdout}${e.stderr}` };
    }
  };
  const added = await cli('add', 'shop', 'Cli.Example.Test');
  assert.equal(added.code, 0, added.out);
  assert.match(added.out, /^Added cli\.example\.test to shop\.$/m);
  assert.match(added.out, /^cli\.example\.test {2}pending-dns$/m);
  assert.match(added.out, /^ {6}cli\.example\.test {2}A {6}127\.0\.0\.1$/m);
  assert.match(added.out, /or this record instead:\n {6}cli\.example\.test {2}CNAME {2}edge\.example\.test$/m);
  assert.match(added.out, /Then: slipway domains verify shop cli\.example\.test/);

  const pending = await cli('verify', 'shop', 'cli.example.test');
  assert.equal(pending.code, 1, 'verify fails while DNS is not right');
  await dns!.update(['update add cli.example.test 5 A 127.0.0.1']);
  const verified = await cli('verify', 'shop', 'cli.example.test');
  assert.equal(verified.code, 0, verified.out);
  assert.match(verified.out, /^cli\.example\.test {2}active$/m);
  assert.match(verified.out, /Nothing to do/);

  const redirect = await cli('add', 'shop', 'old.example.test', '--redirect-to', 'cli.example.test', '--redirect-status', '301');
  assert.match(redirect.out, /old\.example\.test {2}pending-dns {2}\(redirects to cli\.example\.test, 301\)/);
  const list = await cli('ls', 'shop');
  assert.match(list.out, /^cli\.example\.test {2}active$/m);
  assert.match(list.out, /^old\.example\.test {2}pending-dns/m);

  const clash = await cli('add', 'blog', 'cli.example.test');
  assert.equal(clash.code, 1);
  assert.match(clash.out, /Error: cli\.example\.test already belongs to project "shop"\.\nHint: Remove it there first/);
  const removed = await cli('rm', 'shop', 'cli.example.test');
  assert.equal(removed.code, 0);
  assert.match(removed.out, /Removed cli\.example\.test from shop/);
  assert.equal((await slipway.api('GET', domains('shop', '/cli.example.test'))).status, 404);
});
