import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from './helpers.js';

/** Send bytes on a raw socket (for targets http.request refuses to send) and return the status code. */
function rawStatus(port: number, requestLine: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${requestLine}\r\nHost: site.localhost\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('edge security: only manifest keys are ever served', () => {
  let fixture: EdgeFixture;
  let edge: EdgeServer;
  let port: number;
  const SECRET = 'a blob that is stored but belongs to no manifest of this site';
  const secretHash = sha256(SECRET);

  before(async () => {
    fixture = await blobFixture();
    await fixture.blobs.put(secretHash, Buffer.from(SECRET));
    // a file lying around in the blob root, as if someone put it there
    await writeFile(join(fixture.blobRoot, 'passwd'), 'root:x:0:0');
    const site = await makeDeployment(fixture.blobs, {
      'index.html': 'home',
      'a/b.html': 'ab',
      '%2e%2e/x.html': 'a file whose name is literally %2e%2e',
    });
    const lookup = createMemoryLookup({ 'site.localhost': { deploymentId: 'dpl_1', manifestHash: site.manifestHash } });
    ({ edge, port } = await listenEdge({ lookup, blobs: fixture.blobs, log: () => {} }));
  });

  after(async () => {
    await edge.close();
    await fixture.cleanup();
  });

  it('rejects dot segments, raw or percent-encoded, with 400', async () => {
    const paths = [
      '/../passwd',
      '/a/../index.html',
      '/..',
      '/a/./b.html',
      '/%2e%2e/passwd',
      '/%2E%2E/passwd',
      '/%2e./passwd',
      '/.%2E/passwd',
      '/..%2fpasswd',
      '/..%2Fpasswd',
      '/a%2f..%2f..%2fpasswd',
      '/%2e',
    ];
    for (const path of paths) assert.equal((await get(port, 'site.localhost', path)).status, 400, path);
  });

  it('rejects backslashes, NUL, control characters and bad percent-encoding with 400', async () => {
    const paths = ['/a\\b.html', '/..\\passwd', '/%5c..%5cpasswd', '/%5C', '/index.html%00', '/%00', '/a%0d%0aSet-Cookie:x', '/%', '/%zz', '/%e2%82', '/%c0%ae%c0%ae/passwd'];
    for (const path of paths) assert.equal((await get(port, 'site.localhost', path)).status, 400, path);
  });

  it('rejects overlong paths', async () => {
    assert.equal((await get(port, 'site.localhost', `/${'a'.repeat(3000)}`)).status, 400);
  });

  it('rejects request targets that are not a path', async () => {
    assert.equal(await rawStatus(port, 'GET * HTTP/1.1'), 400);
    assert.equal(await rawStatus(port, 'GET index.html HTTP/1.1'), 400);
    assert.equal(await rawStatus(port, 'GET http://elsewhere.localhost/index.html HTTP/1.1'), 400);
  });

  it('lets double-encoded dots simply not match (404), and serves a file literally named %2e%2e', async () => {
    assert.equal((await get(port, 'site.localhost', '/%252e%252e/passwd')).status, 404);
    assert.equal((await get(port, 'site.localhost', '/%252e%252e/x.html')).text, 'a file whose name is literally %2e%2e');
  });

  it('never serves a stored blob that is not in the manifest, nor other files of the blob root', async () => {
    const probes = [`/${secretHash}`, `/${secretHash.slice(0, 2)}/${secretHash}`, '/passwd', `/blobs/${secretHash}`];
    for (const path of probes) {
      const reply = await get(port, 'site.localhost', path);
      assert.equal(reply.status, 404, path);
      assert.ok(!reply.text.includes(SECRET) && !reply.text.includes('root:'), path);
    }
  });
});

describe('edge failures: logged, answered, and the edge keeps serving', () => {
  it('answers a missing blob with 500, a missing manifest with 500, a failing lookup with 502', async (t) => {
    const fixture = await blobFixture();
    t.after(fixture.cleanup);
    const good = await makeDeployment(fixture.blobs, { 'index.html': 'fine', 'gone.html': 'this blob will be deleted' });
    const lostBlob = good.manifest.files['gone.html'];
    assert.ok(lostBlob !== undefined);
    const { rm } = await import('node:fs/promises');
    await rm(fixture.blobs.pathOf(lostBlob.hash));

    const logged: string[] = [];
    const lookup = createMemoryLookup({
      'good.localhost': { deploymentId: 'dpl_good', manifestHash: good.manifestHash },
      'nomanifest.localhost': { deploymentId: 'dpl_x', manifestHash: sha256('no such manifest') },
    });
    const failing = {
      resolveHost: (host: string) => (host === 'broken.localhost' ? Promise.reject(new Error('database is locked')) : lookup.resolveHost(host)),
      aliasGeneration: () => lookup.aliasGeneration(),
    };
    const { edge, port } = await listenEdge({ lookup: failing, blobs: fixture.blobs, log: (message) => logged.push(message) });
    t.after(() => edge.close());

    const missingBlob = await get(port, 'good.localhost', '/gone.html');
    assert.equal(missingBlob.status, 500);
    assert.ok(!missingBlob.text.includes(lostBlob.hash), 'the page leaks no internals');
    assert.equal((await get(port, 'nomanifest.localhost', '/')).status, 500);
    assert.equal((await get(port, 'broken.localhost', '/')).status, 502);
    assert.equal((await get(port, 'good.localhost', '/')).text, 'fine');
    assert.ok(
      logged.some((line) => line.includes(lostBlob.hash)),
      logged.join('\n'),
    );
    assert.ok(
      logged.some((line) => line.includes('broken.localhost')),
      logged.join('\n'),
    );
  });

  it('survives a lookup that throws synchronously, in resolveHost and in aliasGeneration', async (t) => {
    const fixture = await blobFixture();
    t.after(fixture.cleanup);
    const logged: string[] = [];
    const lookup = {
      resolveHost: (): Promise<undefined> => {
        throw new Error('sync failure in resolveHost');
      },
      aliasGeneration: (): Promise<number> => {
        throw new Error('sync failure in aliasGeneration');
      },
    };
    const { edge, port } = await listenEdge({ lookup, blobs: fixture.blobs, log: (message) => logged.push(message) });
    t.after(() => edge.close());
    await new Promise((resolve) => setTimeout(resolve, 60)); // a few polls
    assert.equal((await get(port, 'x.localhost', '/')).status, 502);
    assert.equal((await get(port, 'x.localhost', '/')).status, 502);
    assert.ok(
      logged.some((line) => line.includes('alias generation')),
      logged.join('\n'),
    );
  });

  it('streams files above the stream threshold, ranges included, and keeps a tiny memory cache correct', async (t) => {
    const fixture = await blobFixture();
    t.after(fixture.cleanup);
    const big = Buffer.alloc(200_000, 'x');
    big.write('START', 0);
    big.write('END', big.length - 3);
    const site = await makeDeployment(fixture.blobs, { 'big.bin': { body: big }, 'a.txt': 'a'.repeat(600), 'b.txt': 'b'.repeat(600) });
    const lookup = createMemoryLookup({ 's.localhost': { deploymentId: 'd', manifestHash: site.manifestHash } });
    const { edge, port } = await listenEdge({ lookup, blobs: fixture.blobs, streamThresholdBytes: 10_000, memoryCacheBytes: 1000 });
    t.after(() => edge.close());

    const whole = await get(port, 's.localhost', '/big.bin');
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(big));
    const tail = await get(port, 's.localhost', '/big.bin', { headers: { range: 'bytes=-3' } });
    assert.equal(tail.status, 206);
    assert.equal(tail.text, 'END');
    // a and b cannot both stay in 1000 bytes: each evicts the other, answers stay right
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(port, 's.localhost', '/a.txt')).text, 'a'.repeat(600));
      assert.equal((await get(port, 's.localhost', '/b.txt')).text, 'b'.repeat(600));
    }
  });

  it('drops cached routes at once on invalidate()', async (t) => {
    const fixture = await blobFixture();
    t.after(fixture.cleanup);
    const one = await makeDeployment(fixture.blobs, { 'index.html': 'one' });
    const two = await makeDeployment(fixture.blobs, { 'index.html': 'two' });
    let current = { deploymentId: 'dpl_one', manifestHash: one.manifestHash };
    // a lookup whose generation never changes: only invalidate() can reveal the move
    const lookup = { resolveHost: () => Promise.resolve(current), aliasGeneration: () => Promise.resolve(7) };
    const { edge, port } = await listenEdge({ lookup, blobs: fixture.blobs });
    t.after(() => edge.close());
    await new Promise((resolve) => setTimeout(resolve, 60)); // past the first poll, which drops routes once
    assert.equal((await get(port, 'x.localhost', '/')).text, 'one');
    current = { deploymentId: 'dpl_two', manifestHash: two.manifestHash };
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await get(port, 'x.localhost', '/')).text, 'one');
    edge.invalidate();
    assert.equal((await get(port, 'x.localhost', '/')).text, 'two');
  });
});
