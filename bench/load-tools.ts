/**
 * The load generators and the reference server the edge benchmarks share: wrk and h2load runs,
 * nginx serving the same files (the reference), the bench edge cluster, and the CPU time of a
 * process tree.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, chmod, mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { LocalBlobStore, sha256 } from '../src/blobs/index.js';
import type { Manifest } from '../src/manifest/index.js';
import { stopChild } from './processes.js';

export const NGINX = '/usr/sbin/nginx';

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  p99Ms: number;
}

export interface LoadTarget {
  port: number;
  host: string;
  path: string;
  seconds: number;
  /** https://127.0.0.1:<port> instead of http:// */
  tls?: boolean;
  /** send `Connection: close`: one new connection (and TLS handshake) per request */
  closeEach?: boolean;
  /** the address to connect to (default 127.0.0.1; an SSR server in its sandbox listens on its own) */
  address?: string;
  /** wrk's threads and connections (default 2 and 50) */
  threads?: number;
  connections?: number;
}

/** wrk -t2 -c50 --latency (or `threads` and `connections`) against 127.0.0.1:<port> (or `address`) with a Host header. */
export function wrk(t: LoadTarget): Promise<WrkResult> {
  const url = `${t.tls === true ? 'https' : 'http'}://${t.address ?? '127.0.0.1'}:${t.port}${t.path}`;
  const args = [`-t${t.threads ?? 2}`, `-c${t.connections ?? 50}`, `-d${t.seconds}s`, '--latency', '-H', `Host: ${t.host}`, ...(t.closeEach === true ? ['-H', 'Connection: close'] : []), url];
  return runTool('wrk', args, (out, code) => {
    if (code !== 0) throw new Error(`wrk exited with code ${code}`);
    return parseWrk(out);
  });
}

/** `wrk -t2 -c50` for `seconds` against the edge on 127.0.0.1:<port> with a Host header (plain HTTP). */
export function wrkHost(port: number, path: string, host: string, seconds: number): Promise<WrkResult> {
  return wrk({ port, path, host, seconds });
}

/** requests/sec and the 99th percentile latency (ms) from `wrk --latency` output. */
export function parseWrk(out: string): WrkResult {
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error('some responses were not 2xx/3xx');
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const requests = /(\d+) requests in/.exec(out)?.[1];
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\b/m.exec(out);
  if (rps === undefined || requests === undefined || p99?.[1] === undefined) throw new Error('could not parse wrk output');
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return { requests: Number(requests), requestsPerSec: Number(rps), p99Ms: Math.round(Number(p99[1]) * (scale[p99[2] ?? 'ms'] ?? 1) * 100) / 100 };
}

/** h2load over HTTP/2 (2 threads, 50 connections, 10 streams each); fails on non-2xx answers or when h2 was not negotiated. */
export function h2load(port: number, host: string, path: string, seconds: number): Promise<{ requests: number; requestsPerSec: number }> {
  const args = ['-t2', '-c50', '-m10', '-D', String(seconds), '--warm-up-time=1', `--connect-to=127.0.0.1:${port}`, `https://${host}${path}`];
  return runTool('h2load', args, (out) => {
    const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1];
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    const done = /requests: \d+ total, \d+ started, (\d+) done/.exec(out)?.[1];
    const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
    if (rps === undefined || done === undefined || codes === null || Number(codes[3]) + Number(codes[4]) > 0 || protocol !== 'h2') {
      throw new Error('not HTTP/2, or non-2xx answers');
    }
    return { requests: Number(done), requestsPerSec: Number(rps) };
  });
}

function runTool<T>(command: string, args: string[], parse: (out: string, code: number | null) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    // 'close', not 'exit': the process may exit before its output has all been read
    child.once('close', (code) => {
      try {
        resolve(parse(out, code));
      } catch (error) {
        reject(new Error(`${command} ${args.at(-1)} failed:\n${out}`, { cause: error }));
      }
    });
  });
}

/** user + system CPU time of a process and all its descendants, from /proc (Linux), in µs. */
export async function treeCpuMicros(root: number): Promise<number> {
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux build this runs on
  const stats: { pid: number; ppid: number; ticks: number }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = await readFile(`/proc/${name}/stat`, 'utf8');
      // fields after "(comm)": state ppid ... utime(14th) stime(15th) counted from pid
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.push({ pid: Number(name), ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) });
    } catch {
      // the process ended while we looked
    }
  }
  const inTree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const stat of stats) {
      if (!inTree.has(stat.pid) && inTree.has(stat.ppid)) {
        inTree.add(stat.pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const stat of stats) if (inTree.has(stat.pid)) ticks += stat.ticks;
  return (ticks * 1_000_000) / ticksPerSecond;
}

/** The status of GET <path> on 127.0.0.1:<port> with a Host (and SNI over TLS); 0 when nothing answered. */
export function statusOf(port: number, host: string, opts: { tls?: boolean; path?: string } = {}): Promise<number> {
  return new Promise((resolve) => {
    const common = { host: '127.0.0.1', port, path: opts.path ?? '/', headers: { host }, agent: false as const };
    const done = (res: { statusCode?: number | undefined; resume(): void }) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    };
    const req = opts.tls === true ? httpsRequest({ ...common, servername: host, rejectUnauthorized: false }, done) : httpRequest(common, done);
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Resolve once GET / answers 200 for `host`; reject if `child` exits first or after 10 s. */
export async function waitForAnswer(port: number, host: string, child: ChildProcess, tls = false): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode})`);
    if ((await statusOf(port, host, { tls })) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing answered${tls ? ' over HTTPS' : ''} on port ${port} within 10 s`);
}

/**
 * Start a bench edge cluster script (static-primary.js, https-primary.js) and resolve with the
 * port it prints as "listening <port>"; the caller then waits for its first answer.
 */
export async function startEdgeCluster(script: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening (\d+)/.exec(out);
        if (match?.[1] !== undefined) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`edge cluster exited with code ${code} before listening`)));
      setTimeout(() => reject(new Error('edge cluster did not listen within 20 s')), 20_000).unref();
    });
    return { child, port };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

export interface NginxSite {
  dir: string;
  host: string;
  port: number;
  /** worker_processes: a number, or "auto" */
  workers: number | 'auto';
  files: readonly { path: string; body: Buffer }[];
  /** serve over TLS (and HTTP/2) with these PEM files, which must be in `dir` */
  tls?: { certFile: string; keyFile: string };
}

/** nginx serving `files` under `host` the way a tuned static server does (sendfile, open_file_cache, keep-alive). */
export async function startNginx(site: NginxSite): Promise<ChildProcess> {
  const { dir } = site;
  const www = join(dir, 'www');
  for (const file of site.files) {
    const target = join(www, file.path === '/' ? 'index.html' : file.path.slice(1));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, file.body);
  }
  // nginx workers run as "nobody" when started by root: let them read the files (and the key)
  for (const d of [dir, www, join(www, 'assets')]) await chmod(d, 0o755).catch(() => undefined);
  if (site.tls !== undefined) await chmod(site.tls.keyFile, 0o644);
  const tls =
    site.tls === undefined
      ? ''
      : `  ssl_certificate ${site.tls.certFile};
  ssl_certificate_key ${site.tls.keyFile};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets on;
`;
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
worker_processes ${site.workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 100000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
${tls}  client_body_temp_path ${join(dir, 'nginx-client-body')};
  proxy_temp_path ${join(dir, 'nginx-proxy')};
  fastcgi_temp_path ${join(dir, 'nginx-fastcgi')};
  uwsgi_temp_path ${join(dir, 'nginx-uwsgi')};
  scgi_temp_path ${join(dir, 'nginx-scgi')};
  types { text/html html; text/javascript js; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${site.port}${site.tls === undefined ? '' : ' ssl http2'};
    server_name ${site.host};
    root ${www};
    location / { try_files $uri $uri/ =404; }
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitForAnswer(site.port, site.host, child, site.tls !== undefined);
  } catch (error) {
    await stopChild(child);
    throw new Error(`nginx did not start: ${stderr.trim()}`, { cause: error });
  }
  return child;
}

export interface BenchFile {
  label: string;
  path: string;
  type: string;
  body: Buffer;
}

/** A 2 KB HTML page and a 50 KB script, deterministic so runs compare. */
export function pageAndAsset(): BenchFile[] {
  let html = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Bench</title>\n<script type="module" src="/assets/app-Bx2k9Qz7.js"></script></head>\n<body>\n';
  for (let i = 0; html.length < 2048 - 20; i++) html += `<p>Paragraph ${i} of the benchmark page.</p>\n`;
  html = `${html}</body></html>\n`.padEnd(2048, ' ');
  let js = '';
  for (let i = 0; js.length < 50 * 1024 - 64; i++) js += `export function f${i}(x) { return x * ${i} + ${(i * 7919) % 1000}; }\n`;
  js = js.padEnd(50 * 1024, ' ');
  return [
    { label: 'page 2 KB', path: '/', type: 'text/html; charset=utf-8', body: Buffer.from(html) },
    { label: 'asset 50 KB', path: '/assets/app-Bx2k9Qz7.js', type: 'text/javascript; charset=utf-8', body: Buffer.from(js) },
  ];
}

/** The files as one deployment's blobs + manifest in `<dir>/blobs`; returns the blob root and the manifest's hash. */
export async function storeBenchSite(dir: string, files: readonly BenchFile[]): Promise<{ blobRoot: string; manifestHash: string }> {
  const blobRoot = join(dir, 'blobs');
  const blobs = new LocalBlobStore(blobRoot);
  const manifest: Manifest = { version: 1, files: {} };
  for (const file of files) {
    const hash = sha256(file.body);
    await blobs.put(hash, file.body);
    manifest.files[file.path === '/' ? 'index.html' : file.path.slice(1)] = { hash, size: file.body.length, type: file.type };
  }
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestHash = sha256(json);
  await blobs.put(manifestHash, json);
  return { blobRoot, manifestHash };
}
