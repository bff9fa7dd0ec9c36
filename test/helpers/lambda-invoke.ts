/**
 * Run a Lambda function zip locally: unpack it (yauzl) into a temp dir and load its handler in a
 * child Node process, as Lambda's Node.js runtime does (cwd and LAMBDA_TASK_ROOT the unpacked
 * folder, `file.export` handler names, one event at a time), then invoke it with events.
 * `functionUrlEvent` makes a Lambda Function URL request (payload format 2.0).
 *
 * const fn = await startLambda({ zipPath, handler: 'index.handler' });
 * const res = readResponse(await fn.invoke(functionUrlEvent({ path: '/ssr', host: 'x.lambda-url.eu-west-1.on.aws' })));
 * await fn.close();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** Unpack a zip into `dir` (which must exist), restoring modes and symbolic links as Lambda does. */
export async function unpackZip(zipPath: string, dir: string): Promise<number> {
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) => yauzl.open(zipPath, { lazyEntries: true }, (err, z) => (err ? fail(err) : ok(z))));
  const root = resolve(dir);
  let files = 0;
  try {
    await new Promise<void>((ok, fail) => {
      zip.on('error', fail);
      zip.on('end', ok);
      zip.on('entry', (entry: yauzl.Entry) => {
        unpackEntry(zip, entry, root).then(
          (isFile) => {
            if (isFile) files += 1;
            zip.readEntry();
          },
          (err: unknown) => fail(err),
        );
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return files;
}

async function unpackEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, root: string): Promise<boolean> {
  const target = resolve(root, entry.fileName);
  // yauzl refuses absolute names and "..", this is a second look
  if (!target.startsWith(root + sep)) throw new Error(`zip entry ${entry.fileName} leaves the folder`);
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  if ((mode & S_IFMT) === S_IFDIR || entry.fileName.endsWith('/')) {
    await mkdir(target, { recursive: true });
    return false;
  }
  await mkdir(dirname(target), { recursive: true });
  const stream = await new Promise<Readable>((ok, fail) => zip.openReadStream(entry, (err, s) => (err ? fail(err) : ok(s))));
  if ((mode & S_IFMT) === S_IFLNK) {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    await symlink(Buffer.concat(chunks).toString('utf8'), target);
    return true;
  }
  await pipeline(stream, createWriteStream(target, { mode: mode & 0o777 || 0o644 }));
  return true;
}

export interface LambdaResult {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

export interface RunningLambda {
  /** the unpacked function */
  dir: string;
  /** files the zip held */
  files: number;
  invoke(event: unknown): Promise<LambdaResult>;
  /** stop the process, remove the unpacked folder */
  close(): Promise<void>;
  /** what the function printed (its logs) */
  output: string[];
}

/**
 * The child: load the handler once (Lambda's init phase), then answer each event sent over IPC.
 * It resolves `file.export` the way Lambda's Node runtime does: file.mjs, file.js or file.cjs.
 */
const RUNNER = `
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [file, name] = process.env.SLIPWAY_TEST_HANDLER.split('.');
const path = ['.mjs', '.js', '.cjs'].map((ext) => process.cwd() + '/' + file + ext).find((p) => existsSync(p));
if (path === undefined) throw new Error('no handler file ' + file + '.{mjs,js,cjs}');
const mod = await import(pathToFileURL(path).href);
const handler = mod[name] ?? mod.default?.[name];
if (typeof handler !== 'function') throw new Error('the handler ' + name + ' is not exported by ' + path);
process.on('message', async ({ id, event }) => {
  const deadline = Date.now() + 30000;
  const context = { awsRequestId: id, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => deadline - Date.now(), callbackWaitsForEmptyEventLoop: true };
  try {
    process.send({ id, result: await handler(event, context) });
  } catch (err) {
    process.send({ id, error: String(err?.stack ?? err) });
  }
});
process.send({ ready: true });
`;

/**
 * Unpack a function zip (a file, or its bytes as taken back out of a store) and start its handler
 * in a child process with Lambda's usual variables plus `env`.
 */
export async function startLambda(opts: { zipPath: string; handler: string; env?: Record<string, string> } | { zip: Buffer; handler: string; env?: Record<string, string> }): Promise<RunningLambda> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-lambda-'));
  let child: ChildProcess | undefined;
  try {
    let zipPath: string;
    if ('zip' in opts) {
      // beside the unpacked folder (not in it), removed once unpacked
      zipPath = `${dir}.zip`;
      await writeFile(zipPath, opts.zip);
    } else zipPath = opts.zipPath;
    const files = await unpackZip(zipPath, dir).finally(() => ('zip' in opts ? rm(zipPath, { force: true }) : undefined));
    const output: string[] = [];
    child = spawn(process.execPath, ['--input-type=module', '-e', RUNNER], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LAMBDA_TASK_ROOT: dir,
        AWS_LAMBDA_FUNCTION_NAME: 'slipway-test',
        AWS_LAMBDA_FUNCTION_VERSION: '1',
        AWS_REGION: 'eu-west-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
        NODE_ENV: 'production',
        // no instance metadata service here: the SDK would wait on it for credentials
        AWS_EC2_METADATA_DISABLED: 'true',
        TZ: 'UTC',
        SLIPWAY_TEST_HANDLER: opts.handler,
        ...opts.env,
      },
    });
    const proc = child;
    proc.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const pending = new Map<string, { ok: (r: LambdaResult) => void; fail: (e: Error) => void }>();
    let exited: Error | undefined;
    const ready = new Promise<void>((ok, fail) => {
      proc.on('message', (msg: { ready?: boolean; id?: string; result?: LambdaResult; error?: string }) => {
        if (msg.ready === true) return ok();
        const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
        if (waiter === undefined || msg.id === undefined) return;
        pending.delete(msg.id);
        if (msg.error !== undefined) waiter.fail(new Error(`the handler threw: ${msg.error}`));
        else waiter.ok(msg.result ?? {});
      });
      proc.on('exit', (code, signal) => {
        exited = new Error(`the function's process exited (${code ?? signal}): ${output.join('').slice(-2000)}`);
        fail(exited);
        for (const w of pending.values()) w.fail(exited);
        pending.clear();
      });
    });
    await ready;
    return {
      dir,
      files,
      output,
      invoke: (event) =>
        new Promise<LambdaResult>((ok, fail) => {
          if (exited !== undefined) return fail(exited);
          const id = randomUUID();
          pending.set(id, { ok, fail });
          proc.send({ id, event });
        }),
      close: async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          const gone = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGKILL');
          await gone;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A Lambda Function URL request, payload format 2.0 (what AWS sends a function behind its URL):
 * `functionUrlEvent({ method: 'GET', path: '/api/hello', query: 'a=1', headers: { accept: 'text/html' } })`
 */
export function functionUrlEvent(req: { method?: string; path: string; query?: string; headers?: Record<string, string>; cookies?: string[]; body?: string; host?: string }) {
  const host = req.host ?? 'abcdefghij0123456789.lambda-url.eu-west-1.on.aws';
  const method = req.method ?? 'GET';
  const headers: Record<string, string> = {
    host,
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-for': '203.0.113.7',
    'user-agent': 'slipway-test',
    ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const query = req.query ?? '';
  const queryStringParameters = query === '' ? undefined : Object.fromEntries(new URLSearchParams(query));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.path,
    rawQueryString: query,
    cookies: req.cookies,
    headers,
    queryStringParameters,
    requestContext: {
      accountId: 'anonymous',
      apiId: host.split('.')[0],
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: { method, path: req.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: headers['user-agent'] },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: req.body === undefined ? undefined : Buffer.from(req.body).toString('base64'),
    isBase64Encoded: req.body !== undefined,
  };
}

/** A function's answer as a client behind the Function URL sees it: status, lower-case headers, body text. */
export function readResponse(result: LambdaResult): { status: number; headers: Record<string, string>; text: string; cookies: string[] } {
  const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const raw = result.body ?? '';
  const text = result.isBase64Encoded === true ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  return { status: result.statusCode ?? 200, headers, text, cookies: result.cookies ?? [] };
}
