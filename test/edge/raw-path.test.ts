import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { rawResponsesSupported } from '../../src/edge/raw-response.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from './helpers.js';

interface RawReply {
  statusLine: string;
  headers: Map<string, string>;
  body: string;
}

/** Write `payload` on one connection, read until the server closes it, split the responses by Content-Length. */
function exchange(port: number, payload: string): Promise<RawReply[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      let data = Buffer.concat(chunks);
      const replies: RawReply[] = [];
      while (data.length > 0) {
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) throw new Error(`truncated response: ${data.toString()}`);
        const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        const length = Number(headers.get('content-length') ?? '0');
        replies.push({ statusLine, headers, body: data.subarray(end + 4, end + 4 + length).toString() });
        data = data.subarray(end + 4 + length);
      }
      resolve(replies);
    });
  });
}

describe('edge raw fast path', () => {
  let fixture: EdgeFixture;
  let raw: { edge: EdgeServer; port: number };
  let plain: { edge: EdgeServer; port: number };

  before(async () => {
    fixture = await blobFixture();
    const site = await makeDeployment(fixture.blobs, {
      'index.html': 'home',
      'a.txt': 'A'.repeat(100),
      'b.txt': 'B'.repeat(200),
      'big.js': 'x'.repeat(100_000),
      '404.html': 'custom not found',
    });
    const lookup = createMemoryLookup({ 'r.localhost': { deploymentId: 'dpl_r', manifestHash: site.manifestHash } });
    raw = await listenEdge({ lookup, blobs: fixture.blobs });
    plain = await listenEdge({ lookup, blobs: fixture.blobs, rawResponses: false });
  });

  after(async () => {
    await raw.edge.close();
    await plain.edge.close();
    await fixture.cleanup();
  });

  it('is available on this Node version (else the edge silently takes the slower path)', () => {
    assert.equal(rawResponsesSupported, true);
  });

  it('sends the same status and headers as the writeHead path', async () => {
    for (const path of ['/', '/a.txt', '/big.js', '/missing']) {
      for (let i = 0; i < 2; i++) {
        // twice: the first answer loads the blob (normal path), the second comes from memory (raw path)
        const fast = await get(raw.port, 'r.localhost', path);
        const slow = await get(plain.port, 'r.localhost', path);
        assert.equal(fast.status, slow.status, path);
        assert.equal(fast.text, slow.text, path);
        const strip = (headers: Record<string, unknown>): Record<string, unknown> => ({ ...headers, date: undefined });
        assert.deepEqual(strip(fast.headers), strip(slow.headers), path);
        assert.match(String(fast.headers.date), /GMT$/);
      }
    }
  });

  it('keeps pipelined responses in order, including one that has to load its blob first', async () => {
    await get(raw.port, 'r.localhost', '/a.txt'); // a.txt is in memory, b.txt not yet
    const request = (path: string, last = false): string => `GET ${path} HTTP/1.1\r\nHost: r.localhost\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    const replies = await exchange(raw.port, request('/a.txt') + request('/b.txt') + request('/a.txt') + request('/nope') + request('/', true));
    assert.deepEqual(
      replies.map((r) => [r.statusLine, r.body]),
      [
        ['HTTP/1.1 200 OK', 'A'.repeat(100)],
        ['HTTP/1.1 200 OK', 'B'.repeat(200)],
        ['HTTP/1.1 200 OK', 'A'.repeat(100)],
        ['HTTP/1.1 404 Not Found', 'custom not found'],
        ['HTTP/1.1 200 OK', 'home'],
      ],
    );
    assert.equal(replies[4]?.headers.get('connection'), 'close');
  });

  it('closes the connection for HTTP/1.0 and Connection: close', async () => {
    await get(raw.port, 'r.localhost', '/');
    for (const payload of ['GET / HTTP/1.0\r\nHost: r.localhost\r\n\r\n', 'GET / HTTP/1.1\r\nHost: r.localhost\r\nConnection: close\r\n\r\n']) {
      const replies = await exchange(raw.port, payload); // resolves only once the server closed the socket
      assert.equal(replies.length, 1);
      assert.equal(replies[0]?.body, 'home');
      assert.equal(replies[0]?.headers.get('connection'), 'close');
    }
  });

  it('serves many requests on one keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { request } = await import('node:http');
      const sockets = new Set<unknown>();
      for (let i = 0; i < 20; i++) {
        const path = ['/', '/a.txt', '/big.js', '/missing'][i % 4] ?? '/';
        const reply = await new Promise<{ status: number; length: number }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: raw.port, path, agent, headers: { host: 'r.localhost' } }, (res) => {
            sockets.add(res.socket);
            let length = 0;
            res.on('data', (chunk: Buffer) => (length += chunk.length));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(reply.status, path === '/missing' ? 404 : 200);
        assert.equal(reply.length, { '/': 4, '/a.txt': 100, '/big.js': 100_000, '/missing': 16 }[path]);
      }
      assert.equal(sockets.size, 1);
    } finally {
      agent.destroy();
    }
  });
});
