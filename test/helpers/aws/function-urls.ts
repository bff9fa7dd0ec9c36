import type { IncomingMessage, ServerResponse } from 'node:http';
import { functionUrlEvent, type RunningLambda, readResponse, startLambda } from '../lambda-invoke.js';
import type { LambdaState } from './lambda.js';

/**
 * The stand-in's Function URLs over HTTP: a request whose Host is a URL the account made
 * (CreateFunctionUrlConfig) becomes a Function URL event (payload format 2.0) for the version
 * its alias points at now, run as Lambda's Node runtime runs it (one process per version, with
 * the version's variables), and the handler's result is the answer. Anything else is a loud 404.
 * `down`: the URLs stop answering (each connection is dropped), as when Lambda is unreachable.
 */
export interface FunctionUrls {
  /** true when `host` is a Function URL host; then the request was answered */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  down: boolean;
  /** every request that reached a function: its function, alias and event */
  invocations: { functionName: string; qualifier: string; event: ReturnType<typeof functionUrlEvent> }[];
  /** variables every function process gets on top of its version's (tests: what the sandbox's network would give) */
  extraEnv: Record<string, string>;
  close(): Promise<void>;
}

export function createFunctionUrls(lambda: LambdaState): FunctionUrls {
  const running = new Map<string, Promise<RunningLambda>>();
  const state: FunctionUrls = { handle, down: false, invocations: [], extraEnv: {}, close };

  function find(host: string): { functionName: string; qualifier: string } | undefined {
    for (const fn of lambda.functions.values()) {
      for (const [qualifier, url] of fn.urls) if (new URL(url.url).host === host) return { functionName: fn.name, qualifier };
    }
    return undefined;
  }

  function processFor(functionName: string, version: string): Promise<RunningLambda> {
    const key = `${functionName}:${version}`;
    let started = running.get(key);
    if (started === undefined) {
      const fn = lambda.functions.get(functionName);
      const published = fn?.versions.get(version);
      if (fn === undefined || published === undefined) return Promise.reject(new Error(`no version ${key}`));
      started = startLambda({ zip: published.zip, handler: fn.handler, env: { ...(published.environment ?? {}), ...state.extraEnv } });
      running.set(key, started);
    }
    return started;
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const host = String(req.headers.host ?? '').toLowerCase();
    if (!host.includes('.lambda-url.')) return false;
    if (state.down) {
      req.socket.destroy();
      return true;
    }
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': 'stand-in' });
      res.end(body);
    };
    const target = find(host);
    const fn = target === undefined ? undefined : lambda.functions.get(target.functionName);
    const alias = target === undefined ? undefined : fn?.aliases.get(target.qualifier);
    if (target === undefined || fn === undefined || alias === undefined) {
      console.error(`aws stand-in: a request for ${host}${req.url}, which is no Function URL of this account's aliases`);
      req.resume();
      send(404, '{"Message":"no Function URL of the stand-in has this host"}');
      return true;
    }
    // AuthType NONE answers anyone only with the resource policy ensureFunctionUrl adds
    if (fn.urls.get(target.qualifier)?.authType !== 'NONE' || !fn.permissions.some((p) => p.includes(target.qualifier))) {
      req.resume();
      send(403, '{"Message":"Forbidden"}');
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `https://${host}`);
      const headers: Record<string, string> = {};
      const cookies: string[] = [];
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        if (name === 'cookie') cookies.push(...String(value).split(/;\s*/));
        else headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      // what AWS sets in front of every function: TLS ends at its URL
      headers['x-forwarded-proto'] = 'https';
      headers['x-forwarded-port'] = '443';
      const event = functionUrlEvent({ method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), headers, host, ...(cookies.length === 0 ? {} : { cookies }) });
      // the body's exact bytes, base64 as Lambda sends any body it did not decode
      if (chunks.length > 0) Object.assign(event, { body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true });
      state.invocations.push({ ...target, event });
      processFor(target.functionName, alias.version)
        .then((fnProcess) => fnProcess.invoke(event))
        .then(
          (result) => {
            const answer = readResponse(result);
            const out: [string, string][] = Object.entries(answer.headers);
            for (const cookie of answer.cookies) out.push(['set-cookie', cookie]);
            const bytes = result.isBase64Encoded === true ? Buffer.from(result.body ?? '', 'base64') : Buffer.from(result.body ?? '');
            res.writeHead(answer.status, out.filter(([name]) => name !== 'content-length' && name !== 'transfer-encoding').flat());
            res.end(bytes);
          },
          (err: unknown) => {
            console.error(`aws stand-in: the function ${target.functionName}:${target.qualifier} failed: ${(err as Error).message}`);
            res.writeHead(502, { 'content-type': 'application/json', 'x-amzn-errortype': 'Unhandled' });
            res.end('{"Message":"Internal Server Error"}');
          },
        );
    });
    return true;
  }

  async function close(): Promise<void> {
    const all = [...running.values()];
    running.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (r) => r.close(),
          () => undefined,
        ),
      ),
    );
  }

  return state;
}
