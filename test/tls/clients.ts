import { execFile, spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect as h2connect, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
  text: string;
}

/** One HTTP/2 request on its own session, with SNI = `host` and the test CA trusted. */
export function h2get(port: number, host: string, ca: string, path = '/', headers: OutgoingHttpHeaders = {}, body?: string): Promise<Reply & { alpn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { ca, servername: host });
    session.on('error', reject);
    const req = session.request({ ':path': path, ':authority': host, ...headers });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      const data = Buffer.concat(chunks);
      resolve({ status: Number(head[':status']), headers: head as Reply['headers'], body: data, text: data.toString(), alpn });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One HTTPS request over HTTP/1.1 (fresh connection), SNI = `host`. */
export function h1get(port: number, host: string, ca: string, path = '/', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, ca, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Plain HTTP, as a browser typing http://host/ would. */
export function httpGet(port: number, host: string, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A bare TLS handshake: which certificate the server presents for `servername` (no
 * verification), the protocol ALPN chose, the session to resume later and whether this one was.
 */
export function handshake(
  port: number,
  servername: string,
  opts: { alpn?: string[]; session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<{ cert: PeerCertificate; alpn: string | false; reused: boolean; session: Buffer | undefined; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: opts.alpn ?? ['http/1.1'], session: opts.session, maxVersion: opts.maxVersion });
    let session: Buffer | undefined;
    socket.on('session', (s: Buffer) => (session = s));
    socket.on('error', reject);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const alpn = socket.alpnProtocol ?? false;
      const reused = socket.isSessionReused();
      // TLS 1.3 sends its tickets after the handshake: wait for one, or for the server to close
      let closedByServer = false;
      const done = () => {
        socket.destroy();
        resolve({ cert, alpn, reused, session, closedByServer });
      };
      socket.once('end', () => {
        closedByServer = true;
        done();
      });
      if (!closedByServer) setTimeout(done, 150);
    });
  });
}

/** Why tests that use curl skip (printed by node:test), or undefined when curl is installed. */
export const curlMissing: string | undefined = spawnSync('curl', ['--version']).error === undefined ? undefined : 'curl is not installed (apt-get install -y curl)';

/** curl against 127.0.0.1 with SNI and Host = `host` (--resolve), the test CA trusted. */
export function curl(port: number, host: string, ca: string, path: string, args: string[]): Promise<{ code: number; version: string; body: string; headers: string }> {
  return new Promise((resolve, reject) => {
    const argv = ['-sS', '--max-time', '20', '--cacert', ca, '--resolve', `${host}:${port}:127.0.0.1`, '-D', '-', '-w', '\n%{http_code} %{http_version}', ...args, `https://${host}:${port}${path}`];
    execFile('curl', argv, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`curl failed: ${stderr}`, { cause: error }));
      const lastNl = stdout.lastIndexOf('\n');
      const [code, version] = stdout.slice(lastNl + 1).split(' ');
      const rest = stdout.slice(0, lastNl);
      const split = rest.indexOf('\r\n\r\n');
      resolve({ code: Number(code), version: version ?? '', headers: rest.slice(0, split), body: rest.slice(split + 4) });
    });
  });
}
