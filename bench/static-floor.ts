/**
 * Floors for the static benchmark (SLIPWAY_BENCH_STATIC_FLOORS=1): the bench files served with
 * none of the edge's own work, to show where the edge's CPU per request goes.
 * - http: node:http with the edge's raw write (pre-built head + body, one socket write) and no
 *   routing, lookup or negotiation: what the edge's node:http path costs at best (requests the
 *   HTTP/1.1 fast path, src/edge/http1-fast.ts, leaves to node:http).
 * - net: no HTTP parser nor request/response objects at all, only "find the end of the request
 *   head, write the answer" on a keep-alive socket: what Node's event loop and the kernel cost,
 *   and so the floor of the edge's fast path, which does the same after checking the head.
 * Neither is a server anyone should run (the net one ignores everything but the path).
 * argv: <http|net> <workers>; prints "listening <port>" when all workers listen, like
 * ./static-primary.ts, and stops its workers on SIGTERM or when the parent goes away.
 */
import cluster from 'node:cluster';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { pageAndAsset } from './load-tools.js';

const [mode = 'http', workers = '1'] = process.argv.slice(2);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let listening = 0;
  for (let i = 0; i < Number(workers); i++) {
    cluster.fork().on('listening', (address) => {
      if (++listening === Number(workers)) process.stdout.write(`listening ${address.port}\n`);
    });
  }
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
} else {
  const answers = new Map<string, { head: Buffer; whole: Buffer }>();
  const date = new Date().toUTCString(); // a fixed Date: the floors skip even that per-second work
  for (const file of pageAndAsset()) {
    const head = Buffer.from(
      `HTTP/1.1 200 OK\r\nContent-Type: ${file.type}\r\nContent-Length: ${file.body.length}\r\nETag: "${'0'.repeat(64)}"\r\nCache-Control: public, max-age=31536000, immutable\r\nAccept-Ranges: bytes\r\nx-slipway-deployment: dpl_bench\r\nDate: ${date}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=75\r\n\r\n`,
      'latin1',
    );
    answers.set(file.path, { head, whole: Buffer.concat([head, file.body]) });
  }
  const notFound = Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n', 'latin1');
  const server: Server = mode === 'net' ? createNetServer({ noDelay: true }, answerRaw) : httpFloor();
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.once('disconnect', () => process.exit(0));

  function httpFloor(): Server {
    const server = createHttpServer((req, res) => {
      const answer = answers.get(req.url ?? '');
      if (answer === undefined) {
        res.writeHead(404, ['Content-Length', '0']);
        res.end();
        return;
      }
      // the same internals raw-response.ts sets: headers built and sent, end() adds nothing
      const internals = res as unknown as { _header: unknown; _headerSent: boolean };
      internals._header = answer.head;
      internals._headerSent = true;
      res.end();
      res.socket?.write(answer.whole);
    });
    server.keepAliveTimeout = 75_000;
    return server;
  }

  function answerRaw(socket: Socket): void {
    let pending = '';
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let end = pending.indexOf('\r\n\r\n');
      while (end >= 0) {
        const line = pending.slice(0, pending.indexOf('\r\n'));
        const path = line.split(' ')[1] ?? '';
        socket.write(answers.get(path)?.whole ?? notFound);
        pending = pending.slice(end + 4);
        end = pending.indexOf('\r\n\r\n');
      }
    });
  }
}
