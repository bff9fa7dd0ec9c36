import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  failures: string[];
}

/**
 * Keep `concurrency` keep-alive request loops running against `host` through the edge until
 * `stop()`; every response must be 200, come from one of `versions` (deployment id -> version
 * name, from x-slipway-deployment) and, where `check` says so, carry that version's body whole.
 */
export function startLoad(opts: {
  port: number;
  host: string;
  paths: string[];
  concurrency: number;
  versions: () => Record<string, string>;
  check: (path: string, body: string, version: string) => string | undefined;
}): { stop: () => Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const failures: string[] = [];
  let requests = 0;
  let running = true;
  const one = (path: string) =>
    new Promise<void>((resolve) => {
      const fail = (why: string) => {
        failures.push(`${path}: ${why}`);
        resolve();
      };
      const req = request({ host: '127.0.0.1', port: opts.port, path, headers: { host: opts.host }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(e.message));
        res.on('end', () => {
          requests++;
          const served = res.headers['x-slipway-deployment'];
          const version = typeof served === 'string' ? opts.versions()[served] : undefined;
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
          if (version === undefined) return fail(`served by ${String(served)}`);
          const problem = opts.check(path, Buffer.concat(chunks).toString('utf8'), version);
          if (problem !== undefined) return fail(problem);
          resolve();
        });
      });
      req.on('error', (e) => fail(e.message));
      req.end();
    });
  const loops = Array.from({ length: opts.concurrency }, async (_, i) => {
    while (running) await one(opts.paths[i % opts.paths.length]!);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { requests, failures };
    },
  };
}

/** The body checks for the Next.js fixture: whole pages of exactly one version. */
export function checkNextBody(path: string, body: string, version: string): string | undefined {
  if (path === '/api/hello') return (JSON.parse(body) as { version: string }).version === version ? undefined : 'body from the other version';
  if (path === '/' || path === '/ssr') {
    if (!body.includes('</html>')) return 'cut body';
    const others = (body.match(/\bv\d+\b/g) ?? []).filter((v) => v !== version);
    if (!body.includes(version) || others.length > 0) return `mixed body (${version} with ${others.join(',')})`;
  }
  return undefined;
}
