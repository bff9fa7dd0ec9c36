import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sha256 } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { vercelRules } from '../../src/rules/index.js';
import { tempDir } from '../helpers/paths.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from '../edge/helpers.js';

/*
 * An allowed outside rewrite, proxied to a real https server (its certificate made here for
 * "localhost"). The test lets the proxy dial loopback, which the default address check refuses.
 */

describe('outside rewrites (proxied over https)', { skip: hasOpenssl() ? false : 'openssl is not installed (needed to make the test certificate)' }, () => {
  let fx: EdgeFixture;
  let edge: EdgeServer;
  let port: number;
  let upstream: Server;
  let certs: { path: string; cleanup: () => Promise<void> };
  const seen: { url?: string; host?: string; connection?: string; forwardedHost?: string }[] = [];

  before(async () => {
    certs = await tempDir('slipway-proxy-cert-');
    const key = join(certs.path, 'key.pem');
    const cert = join(certs.path, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    upstream = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      seen.push({ url: req.url, host: req.headers.host, connection: req.headers['x-custom-hop'] as string | undefined, forwardedHost: req.headers['x-forwarded-host'] as string | undefined });
      if (req.url?.startsWith('/v1/slow') === true) return; // never answers
      res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes', 'x-frame-options': 'SAMEORIGIN' });
      res.write('streamed ');
      setTimeout(() => res.end('answer'), 20);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    fx = await blobFixture();
    const rules = vercelRules(
      JSON.stringify({
        rewrites: [
          { source: '/api/:path*', destination: `https://localhost:${upstreamPort}/v1/:path*` },
          { source: '/bad-cert', destination: `https://127.0.0.1:${upstreamPort}/` },
        ],
        headers: [{ source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] }],
      }),
    )!;
    const { manifest } = await makeDeployment(fx.blobs, { 'index.html': 'home' });
    const json = Buffer.from(JSON.stringify({ ...manifest, rules }));
    await fx.blobs.put(sha256(json), json);
    const lookup = createMemoryLookup({ 'site.localhost': { deploymentId: 'dpl-proxy', manifestHash: sha256(json), settings: { externalRewrites: true } } });
    ({ edge, port } = await listenEdge({ lookup, blobs: fx.blobs, log: () => {}, externalProxy: { allowAddress: () => true, ca: readFileSync(cert), responseTimeoutMs: 300 } }));
  });
  after(async () => {
    await edge?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    await fx?.cleanup();
    await certs?.cleanup();
  });

  it("streams the upstream answer with its status, keeps the query, sets Host to the target and the rules' headers over its own", async () => {
    const res = await get(port, 'site.localhost', '/api/users/7?sort=asc', { headers: { connection: 'keep-alive, x-custom-hop', 'x-custom-hop': 'secret' } });
    assert.equal(res.status, 201);
    assert.equal(res.text, 'streamed answer');
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    const req = seen.at(-1)!;
    assert.equal(req.url, '/v1/users/7?sort=asc');
    assert.match(req.host ?? '', /^localhost:\d+$/);
    assert.equal(req.connection, undefined, 'headers named in Connection are hop-by-hop and not forwarded');
    assert.equal(req.forwardedHost, 'site.localhost');
  });
  it('checks the certificate against the name in the rule', async () => {
    const res = await get(port, 'site.localhost', '/bad-cert');
    assert.equal(res.status, 502);
    assert.match(res.text, /could not be reached/);
  });
  it('answers 504 when the upstream does not answer in time', async () => {
    const res = await get(port, 'site.localhost', '/api/slow');
    assert.equal(res.status, 504);
    assert.match(res.text, /did not answer in time/);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
