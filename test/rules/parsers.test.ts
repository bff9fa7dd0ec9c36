import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeaders, parseRedirects, RuleError, vercelRules } from '../../src/rules/index.js';
import { literalPrefix } from '../../src/rules/match.js';
import { unsafeRegex } from '../../src/rules/pattern.js';
import { isPublicAddress } from '../../src/edge/external-proxy.js';

const vercel = (config: unknown) => vercelRules(JSON.stringify(config));
const throwsRule = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof RuleError && message.test(err.message), String(message));

describe('vercel.json', () => {
  it('compiles redirects with their documented status codes', () => {
    const rules = vercel({
      redirects: [
        { source: '/a', destination: '/b', permanent: true },
        { source: '/c', destination: '/d', permanent: false },
        { source: '/e', destination: '/f', statusCode: 301 },
        { source: '/g/:slug', destination: '/h/:slug' },
      ],
    })!;
    assert.equal(rules.platform, 'vercel');
    assert.deepEqual(
      rules.routes.map((r) => [r.kind, r.status]),
      [
        ['redirect', 308],
        ['redirect', 307],
        ['redirect', 301],
        ['redirect', 308],
      ],
    );
    assert.equal(rules.routes[3]!.dest, '/h/$1');
    assert.match('/g/x', new RegExp(rules.routes[3]!.src));
    assert.doesNotMatch('/g/x/y', new RegExp(rules.routes[3]!.src));
    assert.equal(rules.routes[2]!.origin, 'vercel.json redirects[2]');
  });
  it('puts rewrites after redirects and headers, and compiles cleanUrls and trailingSlash into redirects', () => {
    const rules = vercel({
      cleanUrls: true,
      trailingSlash: false,
      rewrites: [{ source: '/(.*)', destination: '/index.html' }],
      headers: [{ source: '/(.*)', headers: [{ key: 'X-A', value: '1' }] }],
    })!;
    assert.deepEqual(
      rules.routes.map((r) => r.kind),
      ['redirect', 'redirect', 'redirect', 'headers', 'rewrite'],
    );
    assert.deepEqual(rules.routes[3]!.headers, [['X-A', '1']]);
  });
  it('has nothing to say about a vercel.json without routing fields', () => {
    assert.equal(vercel({ buildCommand: 'npm run build' }), undefined);
  });
  it('names the field, the rule index and the problem', () => {
    throwsRule(() => vercelRules('{"redirects": ['), /vercel\.json is not valid JSON/);
    throwsRule(
      () =>
        vercel({
          redirects: [
            { source: '/a', destination: '/b' },
            { source: 'a', destination: '/b' },
          ],
        }),
      /redirects\[1\]: "source" must be a path pattern/,
    );
    throwsRule(() => vercel({ redirects: [{ source: '/a', destination: '/b', statusCode: 200 }] }), /redirects\[0\]: "statusCode" must be one of/);
    throwsRule(() => vercel({ redirects: [{ source: '/a', destination: '/b', permanent: true, statusCode: 301 }] }), /cannot define both/);
    throwsRule(() => vercel({ rewrites: [{ source: '/a', destination: 'http://example.com/' }] }), /rewrites\[0\].*plain http/);
    throwsRule(() => vercel({ rewrites: [{ source: '/a/:x', destination: '/b/:y' }] }), /vercel\.json rewrites: Rewrite at index 0 has segment ":y"/);
    throwsRule(() => vercel({ headers: [{ source: '/a', headers: [{ key: 'Bad Name', value: 'x' }] }] }), /headers\[0\] headers\[0\]: "Bad Name" is not a valid header name/);
    throwsRule(() => vercel({ headers: [{ source: '/a', headers: [{ key: 'Content-Length', value: '1' }] }] }), /cannot be set by a rule/);
    throwsRule(() => vercel({ redirects: [{ source: '/((a+)+)', destination: '/b' }] }), /redirects\[0\].*exponential/);
    throwsRule(() => vercel({ redirects: [{ source: '/a', destination: '/b', has: [{ type: 'geo', key: 'x' }] }] }), /has\[0\]: "type" must be one of/);
    throwsRule(() => vercel({ redirects: [{ source: '/a', destination: '/b', has: [{ type: 'header', key: 'x', value: '(' }] }] }), /has\[0\] value: not a valid regular expression/);
    throwsRule(() => vercel({ routes: [{ src: '/a', dest: '/b' }] }), /"routes".*not supported/);
    throwsRule(() => vercel({ cleanUrls: 'yes' }), /"cleanUrls" must be true or false/);
  });
});

describe('_redirects', () => {
  it('reads status codes, force, splats, placeholders and query conditions, skipping comments and blank lines', () => {
    const routes = parseRedirects(
      [
        '# a comment',
        '',
        '/home  /  ',
        '/old/*  /new/:splat  302',
        '/news/:year/:slug  /a/:slug?y=:year  301!',
        '/store id=:id  /blog/:id  301',
        '/spa/*  /index.html  200',
        '/gone  /404.html  404',
        '/api/*  https://api.example.com/:splat  200!  # trailing comment',
      ].join('\n'),
    );
    assert.deepEqual(
      routes.map((r) => [r.kind, r.status, r.dest, r.force ?? false]),
      [
        ['redirect', 301, '/', false],
        ['redirect', 302, '/new/$splat', false],
        ['redirect', 301, '/a/$slug?y=$year', true],
        ['redirect', 301, '/blog/$id', false],
        ['rewrite', undefined, '/index.html', false],
        ['rewrite', 404, '/404.html', false],
        ['rewrite', undefined, 'https://api.example.com/$splat', true],
      ],
    );
    assert.equal(routes[0]!.origin, '_redirects line 3');
    assert.deepEqual(routes[3]!.has, [{ type: 'query', key: 'id', value: '(?<id>.*)' }]);
    assert.equal(routes[3]!.keepQuery, false);
    const splat = new RegExp(routes[1]!.src);
    assert.equal(splat.exec('/old/a/b')?.groups?.splat, 'a/b');
    assert.match('/old', splat);
    assert.match('/home/', new RegExp(routes[0]!.src), 'a trailing slash is ignored');
  });
  it('reads a whole-domain rule as a host condition', () => {
    const [route] = parseRedirects('https://old.example.com/*  https://example.com/:splat  301!');
    assert.deepEqual(route!.has, [{ type: 'host', value: 'old\\.example\\.com' }]);
    assert.equal(route!.dest, 'https://example.com/$splat');
    assert.equal(route!.force, true);
  });
  it('names the line and the problem', () => {
    throwsRule(() => parseRedirects('/a /b\n\n/c'), /_redirects line 3: the rule has no target/);
    throwsRule(() => parseRedirects('/a /b 418'), /line 1: status 418 is not supported/);
    throwsRule(() => parseRedirects('a /b'), /line 1: the rule must start with the path/);
    throwsRule(() => parseRedirects('/a/*/b /c'), /line 1: "\*" must be the last part/);
    throwsRule(() => parseRedirects('/a /b 301 Country=us'), /"Country" is not supported/);
    throwsRule(() => parseRedirects('/a /b 200 extra'), /unexpected "extra"/);
    throwsRule(() => parseRedirects('/a http://example.com 200'), /plain http/);
  });
});

describe('_headers', () => {
  it('reads blocks of indented headers and joins a header named twice', () => {
    const routes = parseHeaders('# site headers\n/*\n  X-Frame-Options: DENY\n\n/shop/:item\n  X-Shop: a\n  x-shop: b\n  Link: </style.css>; rel=preload\n');
    assert.deepEqual(
      routes.map((r) => r.headers),
      [
        [['X-Frame-Options', 'DENY']],
        [
          ['X-Shop', 'a, b'],
          ['Link', '</style.css>; rel=preload'],
        ],
      ],
    );
    assert.match('/shop/hat', new RegExp(routes[1]!.src));
    assert.equal(routes[1]!.origin, '_headers line 5');
  });
  it('names the line and the problem', () => {
    throwsRule(() => parseHeaders('  X-A: 1'), /_headers line 1: a header before any path/);
    throwsRule(() => parseHeaders('/a\n  nonsense'), /line 2: "nonsense" is not "Name: value"/);
    throwsRule(() => parseHeaders('/a\n/b\n  X: 1'), /line 1: the path has no headers/);
    throwsRule(() => parseHeaders('/a\n  Transfer-Encoding: chunked'), /line 2: the header "Transfer-Encoding" is set by the edge/);
  });
});

describe('matching helpers', () => {
  it('refuses nested quantifiers and keeps ordinary patterns', () => {
    // (an ambiguous alternation under a quantifier, "(a|aa)+", is not caught: see the README's note)
    for (const bad of ['(a+)+', '(.*)*', '((ab)*)+', '(x+){2,}', '.*a.*b.*', '/:a*/:b*/(.*)', 'x{1,}y+z*']) assert.notEqual(unsafeRegex(bad), undefined, bad);
    for (const good of ['/(.*)', '/:path*', '/:path((?!uk/).*)', '(?:/(.*))?', '[a+]+', '\\(a+\\)+', '/blog/(\\d+)', '.*Chrome.*', '(?<y>\\d{4})-(?<m>\\d{2,4})', 'a+?b*?'])
      assert.equal(unsafeRegex(good), undefined, good);
  });
  it('finds the literal prefix rules are skipped by', () => {
    assert.equal(literalPrefix('^/old(?:/([^/]+?))$'), '/old');
    assert.equal(literalPrefix('^/about/?$'), '/about');
    assert.equal(literalPrefix('^\\/a\\.b\\/c'), '/a.b/c');
    assert.equal(literalPrefix('^(?:/(.*))$'), '');
    assert.equal(literalPrefix('^/a|^/b'), '');
    assert.equal(literalPrefix('/a'), '');
  });
  it('tells public addresses from loopback, private, link-local, CGNAT and multicast ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '224.0.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::7f00:1',
      'not-an-ip',
    ])
      assert.equal(isPublicAddress(a), false, a);
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
  });
});
