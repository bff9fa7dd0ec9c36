import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { postJson, PrivateAddressError } from '../../src/notify/post.js';

// Webhooks leave from the host's network: a name that resolves to a private address is refused
// at the lookup the connection itself uses, unless the operator allowed that address.

let server: ReturnType<typeof createServer>;
let port: number;
let hits = 0;
before(async () => {
  server = createServer((req, res) => {
    hits += 1;
    req.resume();
    res.writeHead(200).end('x'.repeat(5000));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => server?.close());

test('a name resolving to loopback is refused before connecting; allowed, it is sent and only the first KB is kept', async () => {
  await assert.rejects(
    postJson(`http://localhost:${port}/hook`, {}, '{}', { timeoutMs: 5000, allowed: () => false }),
    (err: unknown) => err instanceof PrivateAddressError && /localhost resolves to/.test(err.message),
  );
  await assert.rejects(postJson(`http://10.0.0.1:${port}/hook`, {}, '{}', { timeoutMs: 5000, allowed: () => false }), PrivateAddressError);
  assert.equal(hits, 0);
  const answer = await postJson(`http://127.0.0.1:${port}/hook`, { 'content-type': 'application/json' }, '{}', { timeoutMs: 5000, allowed: (a) => a === '127.0.0.1' });
  assert.equal(answer.status, 200);
  assert.equal(answer.excerpt.length, 1024);
  assert.equal(hits, 1);
});
