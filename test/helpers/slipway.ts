import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { repoRoot, testNodeCacheDir } from './paths.js';

export const TOKEN = 'test-admin-token-0123456789';

export interface RunningSlipway {
  proc: ChildProcess;
  apiUrl: string;
  edgePort: number;
  output: () => string;
  /** SIGTERM and wait for exit */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit */
  kill(): Promise<void>;
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
}

/**
 * Start `slipway up` as a real child process on free ports in `dataDir`, and wait until it
 * prints its URLs. Extra flags go through as given, e.g. ['--job-lease-ms', '1500'].
 */
export async function startSlipwayProcess(dataDir: string, flags: string[] = [], env: Record<string, string> = {}): Promise<RunningSlipway> {
  const proc = spawn(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), 'up', '--port', '0', '--edge-port', '0', '--data-dir', dataDir, '--host', '127.0.0.1', ...flags], {
    env: { ...process.env, SLIPWAY_ADMIN_TOKEN: TOKEN, SLIPWAY_NODE_CACHE_DIR: testNodeCacheDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ api: number; edge: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`slipway did not start in 30s:\n${out}`)), 30_000);
    const check = () => {
      const up = /Slipway is up \(([a-z, ]+)\)/.exec(out);
      if (up === null) return;
      const roles = up[1]!;
      const api = /API and dashboard: http:\/\/localhost:(\d+)/.exec(out);
      const edge = /Sites \(edge\):\s+http:\/\/\S+:(\d+)/.exec(out);
      if ((api !== null || !roles.includes('api')) && (edge !== null || !roles.includes('edge'))) {
        clearTimeout(timer);
        resolve({ api: Number(api?.[1] ?? 0), edge: Number(edge?.[1] ?? 0) });
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`slipway exited with ${code} before starting:\n${out}`));
    });
  });
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  return {
    proc,
    apiUrl,
    edgePort: ports.edge,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    api: (method, path, body, headers) => callApi(apiUrl, method, path, body, headers),
  };
}

export async function callApi<T = any>(apiUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** A GitHub push payload as GitHub sends it (the fields Slipway reads, and some it does not). */
export function pushPayload(opts: { ref: string; after: string; before?: string; message?: string; deleted?: boolean; repoUrl?: string }) {
  return {
    ref: opts.ref,
    before: opts.before ?? '0'.repeat(40),
    after: opts.after,
    created: false,
    deleted: opts.deleted ?? false,
    forced: false,
    compare: 'https://github.com/acme/site/compare/a...b',
    commits: [{ id: opts.after, message: opts.message ?? 'change', author: { name: 'Test Author', email: 'author@example.com' } }],
    head_commit: opts.deleted ? null : { id: opts.after, message: opts.message ?? 'change', author: { name: 'Test Author', email: 'author@example.com' } },
    repository: { id: 1, name: 'site', full_name: 'acme/site', clone_url: opts.repoUrl ?? 'https://github.com/acme/site.git', default_branch: 'main' },
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    sender: { login: 'octocat', id: 1 },
  };
}

/** POST a webhook signed the way GitHub signs it. */
export async function sendWebhook(
  apiUrl: string,
  project: string,
  secret: string | undefined,
  payload: unknown,
  opts: { event?: string; delivery?: string; rawBody?: string; signature?: string } = {},
): Promise<{ status: number; body: any }> {
  const raw = opts.rawBody ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/test',
    'x-github-event': opts.event ?? 'push',
    'x-github-delivery': opts.delivery ?? randomUUID(),
    'x-github-hook-id': '1',
  };
  if (opts.signature !== undefined) headers['x-hub-signature-256'] = opts.signature;
  else if (secret !== undefined) headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  const res = await fetch(`${apiUrl}/hooks/github/${project}`, { method: 'POST', headers, body: raw });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export interface EdgeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** GET (or HEAD) through the edge with a Host header, as a browser on <host> would. */
export function edgeGet(port: number, host: string, path = '/', headers: Record<string, string> = {}, method = 'GET'): Promise<EdgeResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Poll `fn` until it returns a value that is not undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Wait until a deployment reaches one of `states`; returns it. */
export async function waitForStatus(s: { api: RunningSlipway['api'] }, id: string, states: string[], timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `deployment ${id} to be ${states.join(' or ')}`,
    async () => {
      const { body } = await s.api('GET', `/api/v1/deployments/${id}`);
      return states.includes(body.status) ? body : undefined;
    },
    timeoutMs,
    150,
  );
}
