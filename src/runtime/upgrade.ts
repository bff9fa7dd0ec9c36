import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { forwardHeaders, type ProxyOptions } from './proxy.js';

/**
 * Relay a protocol upgrade (WebSocket) to a server (on loopback or in its sandbox's network), then splice the two sockets.
 * Resolves when either side closes. A server that declines the upgrade gets its answer
 * relayed with the connection closed after it; an unreachable one gives a bare 502.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: { host: string; port: number }, opts: ProxyOptions): Promise<void> {
  return new Promise((resolve) => {
    const headers = forwardHeaders(req, opts);
    headers.connection = 'Upgrade';
    if (req.headers.upgrade !== undefined) headers.upgrade = req.headers.upgrade;
    const outgoing = request({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers, agent: false });
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve();
    };
    socket.on('error', () => outgoing.destroy());
    socket.on('close', () => {
      outgoing.destroy();
      done();
    });

    outgoing.on('upgrade', (res, upstream, upstreamHead) => {
      socket.write(rawHead(res));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      // either side ending ends both: the edge's sockets allow half-open connections, which
      // would otherwise keep a closed WebSocket counted in flight forever
      const closeBoth = () => {
        upstream.destroy();
        done();
      };
      for (const event of ['end', 'close', 'error']) {
        upstream.on(event, closeBoth);
        socket.on(event, closeBoth);
      }
      upstream.pipe(socket).pipe(upstream);
    });
    outgoing.on('response', (res) => {
      // no upgrade: relay the answer as is and close, the body delimited by the close
      const { 'transfer-encoding': _te, connection: _c, 'keep-alive': _k, ...rest } = res.headers;
      socket.write(rawHead(res, { ...rest, connection: 'close' }));
      res.pipe(socket);
      res.on('error', () => socket.destroy());
    });
    outgoing.on('error', () => {
      if (!socket.destroyed) socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 33\r\nconnection: close\r\n\r\nThe site's server is not running\n");
      done();
    });
    outgoing.end();
  });
}

function rawHead(res: IncomingMessage, headers?: Record<string, string | string[] | undefined>): string {
  let out = `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`;
  if (headers === undefined) {
    for (let i = 0; i < res.rawHeaders.length; i += 2) out += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  } else {
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) out += `${name}: ${v}\r\n`;
    }
  }
  return `${out}\r\n`;
}
