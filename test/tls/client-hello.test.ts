import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { clientHelloComplete, parseClientHello } from '../../src/tls/client-hello.js';

/** The first bytes a real TLS client (node's OpenSSL) sends, caught by a plain TCP server. */
async function captureHello(opts: { servername?: string; alpn?: string[] }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket: Socket) => {
      let data = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (clientHelloComplete(data)) {
          resolve(data);
          socket.destroy();
        }
      });
    });
  });
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: opts.servername, ALPNProtocols: opts.alpn });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

test('a real ClientHello gives its SNI name and ALPN protocols', async () => {
  const hello = await captureHello({ servername: 'Example.COM', alpn: ['acme-tls/1', 'http/1.1'] });
  assert.deepEqual(parseClientHello(hello), { servername: 'example.com', alpn: ['acme-tls/1', 'http/1.1'] });
  const bare = await captureHello({});
  assert.deepEqual(parseClientHello(bare), { servername: undefined, alpn: [] });
});

test('truncated or foreign bytes are not a ClientHello, and never throw', async () => {
  const hello = await captureHello({ servername: 'example.com', alpn: ['h2'] });
  for (let n = 0; n < hello.length; n++) {
    const prefix = hello.subarray(0, n);
    assert.equal(clientHelloComplete(prefix), false, `${n} bytes are not the whole record`);
    const parsed = parseClientHello(prefix);
    assert.ok(parsed === undefined || parsed.servername === undefined || parsed.servername === 'example.com');
  }
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined);
  assert.equal(clientHelloComplete(Buffer.from('GET')), true, 'not TLS: nothing to wait for');
});
