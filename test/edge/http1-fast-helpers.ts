import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ObservedRequest, RequestObserver } from '../../src/access-log/index.js';
import { sha256, type LocalBlobStore } from '../../src/blobs/index.js';
import type { ServerGateway } from '../../src/edge/types.js';
import { makeDeployment } from './helpers.js';

/** Which path answered each request, in order: "fast <target>" (http1-fast.ts) or "node <target>" (node:http). */
export function pathRecorder(): { observer: RequestObserver; seen: string[] } {
  const seen: string[] = [];
  const nothing = (): void => undefined;
  const observer: RequestObserver = {
    start: (req: IncomingMessage) => seen.push(`node ${req.url}`),
    fastAnswered: () => true,
    answered: (entry: ObservedRequest) => seen.push(`fast ${entry.path}`),
    site: nothing,
    cache: nothing,
    wrote: nothing,
    handled: nothing,
    handedOver: nothing,
  };
  return { observer, seen };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Write each part (a pause between parts, so they arrive as separate packets), then end the
 * writing side and read until the edge closes: every byte it sent, as it sent them.
 */
export async function exchange(connect: () => Duplex, parts: Array<string | Buffer>, opts: { end?: boolean } = {}): Promise<Buffer> {
  const socket = connect();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = once(socket, 'close');
  socket.on('error', () => undefined); // a reset after the last answer is the edge's way to refuse too
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await sleep(40);
    socket.write(parts[i]!);
  }
  if (opts.end !== false) socket.end();
  await closed;
  return Buffer.concat(chunks);
}

/** The bytes with every Date header's value blanked: the one thing two answers a second apart may differ in. */
export function withoutDate(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n');
}

/** Status lines of the responses in `bytes`, for a readable assertion message. */
export function statusLines(bytes: Buffer): string[] {
  return [...bytes.toString('latin1').matchAll(/HTTP\/1\.[01] \d{3}[^\r]*/g)].map((m) => m[0]);
}

/**
 * A deployment with a server (an SSR app), whose server is `gatewayStub`: the requests the
 * edge sends it show that they went past the fast path, without starting a real process.
 */
export async function serverDeployment(blobs: LocalBlobStore, files: Record<string, string>): Promise<string> {
  const { manifest } = await makeDeployment(blobs, files);
  const json = Buffer.from(JSON.stringify({ ...manifest, server: { entry: 'server.js', files: {} } }));
  await blobs.put(sha256(json), json);
  return sha256(json);
}

/** Answers proxied requests with "server saw <method> <url> <body>"; an upgrade with 101 and then echoes. */
export const gatewayStub: ServerGateway = {
  ensure: async () => ({ port: 1 }),
  proxy: async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = `server saw ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  },
  upgrade: async (_req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString() === 'bye') socket.end();
      else socket.write(chunk);
    });
  },
  pin: () => undefined,
  drain: async () => undefined,
};
