import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';

/** "127.0.0.1:53", "[::1]:5353" or "ns1.example.net:53" (the port defaults to 53). */
export function parseServer(server: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(server.trim());
  const port = m?.[3] === undefined ? 53 : Number(m[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || port < 1 || port > 65535) throw new Error(`not a DNS server address: ${JSON.stringify(server)} (for example 127.0.0.1:53)`);
  return { host, port };
}

export function newMessageId(): number {
  return randomInt(0, 65536);
}

/**
 * Send one DNS message and return the answer with the same id: over UDP (retried, 2 s each),
 * then over TCP when the answer is truncated (TC) or UDP gets nothing back.
 */
export async function exchange(server: { host: string; port: number }, message: Buffer, timeoutMs = 2000): Promise<Buffer> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const answer = await overUdp(server, message, timeoutMs).catch(() => undefined);
    if (answer === undefined) continue;
    if ((answer[2]! & 0x02) === 0) return answer;
    break; // truncated: ask again over TCP
  }
  return overTcp(server, message, timeoutMs * 2);
}

function overUdp(server: { host: string; port: number }, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const id = message.readUInt16BE(0);
    const timer = setTimeout(() => done(new Error(`no answer from ${server.host}:${server.port} over UDP within ${timeoutMs} ms`)), timeoutMs);
    const done = (error: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (error !== undefined) reject(error);
      else resolve(answer!);
    };
    socket.on('error', (error) => done(error));
    socket.on('message', (answer) => {
      // a stray datagram with another id is not our answer
      if (answer.length >= 12 && answer.readUInt16BE(0) === id) done(undefined, answer);
    });
    socket.send(message, server.port, server.host);
  });
}

function overTcp(server: { host: string; port: number }, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${server.host}:${server.port} over TCP within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`DNS over TCP to ${server.host}:${server.port} failed: ${error.message}`, { cause: error }));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.connect(server.port, server.host, () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([length, message]));
    });
  });
}
