/**
 * A Next.js build's standalone server (`node server.js` in .next/standalone), as Slipway's runtime
 * starts it, on a free port: what the tests of the AWS target compare the Lambda function with.
 * `const s = await startStandalone(dir, { GREETING: 'hi' }); await getLocal(s.port, '/ssr', {}); await s.stop();`
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';

export interface Standalone {
  port: number;
  stop(): Promise<void>;
}

export async function startStandalone(dir: string, env: Record<string, string> = {}, host = 'localhost'): Promise<Standalone> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['server.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port), HOSTNAME: '127.0.0.1', NODE_ENV: 'production', ...env },
    stdio: 'ignore',
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };
  for (let i = 0; i < 200; i++) {
    const up = await getLocal(port, '/api/hello', {}, host).then(
      () => true,
      () => false,
    );
    if (up) return { port, stop };
    if (proc.exitCode !== null) throw new Error(`the standalone server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('the standalone server did not start in 20 s');
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address !== null ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** GET over a real socket to 127.0.0.1, with this Host; headers flattened to strings. */
export function getLocal(port: number, path: string, headers: Record<string, string>, host = 'localhost'): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        ok({ status: res.statusCode ?? 0, headers: flat, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.end();
  });
}
