import { createVerify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyProblems, githubSpec, matchOperation, parameterProblems, successAnswer } from './github-openapi.js';

/**
 * A local GitHub REST API for tests: every request is matched to an operation of GitHub's
 * OpenAPI description and checked (path, query, auth header, JSON body); anything the
 * description does not allow is recorded in `errors` (which a test asserts empty) and answered
 * 422 with what was wrong. Answers are shaped by the operation's response schema, with ids that
 * deployments, statuses and comments keep, so the conversation can be read back.
 */
export interface GithubApiRequest {
  method: string;
  path: string;
  operationId: string | undefined;
  params: Record<string, string>;
  query: Record<string, string>;
  authorization: string | undefined;
  body: any;
  /** the status answered */
  status: number;
  at: number;
}

export interface LocalGithubApi {
  url: string;
  requests: GithubApiRequest[];
  errors: string[];
  /** comments by id, as GitHub holds them now */
  comments: Map<number, { repo: string; issue: number; body: string }>;
  /** deployments by id with the states of their statuses in order */
  deployments: Map<number, { repo: string; body: any; states: string[] }>;
  /** answer the next `count` requests with a 502, or a rate-limit 403 (with `retry-after`, or `x-ratelimit-reset`) */
  failNext(count: number, how: '502' | 'retry-after' | 'ratelimit-reset'): void;
  /** forget the failures failNext asked for that were not answered yet */
  clearFailures(): void;
  /** called with each request once it is answered */
  onRequest: ((r: GithubApiRequest) => void) | undefined;
  close(): Promise<void>;
}

export interface GithubApiOptions {
  /** the one token allowed (default: any) */
  token?: string;
  /** act as GitHub for a GitHub App: JWTs are checked with this public key, installation tokens issued */
  app?: { appId: string; publicKey: KeyObject; installationId?: number };
}

export async function startGithubApi(opts: GithubApiOptions = {}): Promise<LocalGithubApi> {
  // read the description before the first request, which would otherwise wait for it
  githubSpec();
  const requests: GithubApiRequest[] = [];
  const errors: string[] = [];
  const comments = new Map<number, { repo: string; issue: number; body: string }>();
  const deployments = new Map<number, { repo: string; body: any; states: string[] }>();
  const issuedTokens = new Set<string>();
  const failures: Array<'502' | 'retry-after' | 'ratelimit-reset'> = [];
  let nextId = 1000;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://github.test');
    const raw = await readBody(req);
    const authorization = req.headers.authorization;
    const record: GithubApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      operationId: undefined,
      params: {},
      query: Object.fromEntries(url.searchParams),
      authorization,
      body: undefined,
      status: 0,
      at: Date.now(),
    };
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      requests.push(record);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
      api.onRequest?.(record);
    };
    const refuse = (problems: string[]) => {
      const line = `${record.method} ${record.path}${url.search}: ${problems.join('; ')}`;
      errors.push(line);
      answer(422, { message: 'Validation Failed (local GitHub API)', errors: problems });
    };

    const failure = failures.shift();
    if (failure !== undefined) {
      if (failure === '502') return answer(502, { message: 'Server Error' });
      const reset = Math.ceil(Date.now() / 1000) + 1;
      return failure === 'retry-after'
        ? answer(403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '1' })
        : answer(403, { message: 'API rate limit exceeded.' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    }

    const matched = matchOperation(record.method, url.pathname);
    if (matched === undefined) return refuse([`GitHub has no operation ${record.method} ${url.pathname}`]);
    const { operation, params } = matched;
    record.operationId = operation.operationId;
    record.params = params;
    const problems = parameterProblems(operation, params, url.searchParams);
    if (raw.length > 0) {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) problems.push('a body needs content-type: application/json');
      try {
        record.body = JSON.parse(raw.toString('utf8'));
      } catch {
        problems.push('the body is not JSON');
      }
    }
    problems.push(...bodyProblems(operation, record.body));
    if (req.headers['user-agent'] === undefined) problems.push('GitHub requires a User-Agent header');
    problems.push(...authProblems(operation.template, authorization));
    if (problems.length > 0) return refuse(problems);

    const { status, body } = successAnswer(operation);
    const repo = `${params.owner}/${params.repo}`;
    switch (operation.operationId) {
      case 'repos/create-deployment': {
        const id = nextId++;
        deployments.set(id, { repo, body: record.body, states: [] });
        return answer(status, { ...body, id, sha: record.body.ref, ref: record.body.ref, environment: record.body.environment });
      }
      case 'repos/create-deployment-status': {
        const d = deployments.get(Number(params.deployment_id));
        if (d === undefined || d.repo !== repo) return answer(404, { message: 'Not Found' });
        d.states.push(record.body.state);
        return answer(status, { ...body, id: nextId++, state: record.body.state });
      }
      case 'issues/create-comment': {
        const id = nextId++;
        comments.set(id, { repo, issue: Number(params.issue_number), body: record.body.body });
        return answer(status, { ...body, id, body: record.body.body });
      }
      case 'issues/update-comment': {
        const c = comments.get(Number(params.comment_id));
        if (c === undefined || c.repo !== repo) return answer(404, { message: 'Not Found' });
        c.body = record.body.body;
        return answer(status, { ...body, id: Number(params.comment_id), body: c.body });
      }
      case 'issues/list-comments': {
        const all = [...comments.entries()].filter(([, c]) => c.repo === repo && c.issue === Number(params.issue_number));
        const per = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        return answer(
          status,
          all.slice((page - 1) * per, page * per).map(([id, c]) => ({ ...successAnswer(operation).body, id, body: c.body })),
        );
      }
      case 'apps/get-repo-installation':
        return answer(status, { ...body, id: opts.app?.installationId ?? 77 });
      case 'apps/create-installation-access-token': {
        if (Number(params.installation_id) !== (opts.app?.installationId ?? 77)) return answer(404, { message: 'Not Found' });
        const token = `ghs_local${nextId++}`;
        issuedTokens.add(token);
        return answer(status, { ...body, token, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
      }
      default:
        return answer(status, body);
    }
  };

  /** Authorization: a JWT of the App for App routes, else the token (or an installation token the App was issued). */
  const authProblems = (template: string, authorization: string | undefined): string[] => {
    const m = /^(Bearer|token) (\S+)$/.exec(authorization ?? '');
    if (m === null) return ['Authorization must be "Bearer <token>" or "token <token>"'];
    const credential = m[2]!;
    const appRoute = template.startsWith('/app/') || template === '/repos/{owner}/{repo}/installation';
    if (opts.app !== undefined) {
      if (appRoute) return jwtProblems(credential, opts.app.appId, opts.app.publicKey);
      return issuedTokens.has(credential) ? [] : ['the token is not an installation token this App was issued'];
    }
    if (appRoute) return ['App routes need a GitHub App JWT'];
    return opts.token === undefined || credential === opts.token ? [] : ['bad credentials'];
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      errors.push(`local GitHub API crashed: ${(err as Error).stack ?? String(err)}`);
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api: LocalGithubApi = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    errors,
    comments,
    deployments,
    failNext: (count, how) => failures.push(...Array.from({ length: count }, () => how)),
    clearFailures: () => void failures.splice(0),
    onRequest: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}

/** What is wrong with a GitHub App JWT: RS256 signed by the App's key, issued by the App, valid now, for at most ten minutes. */
export function jwtProblems(jwt: string, appId: string, publicKey: KeyObject, now = Date.now()): string[] {
  const parts = jwt.split('.');
  if (parts.length !== 3) return ['the App credential is not a JWT'];
  const [head, claims, signature] = parts as [string, string, string];
  let header: any;
  let payload: any;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
  } catch {
    return ['the JWT does not decode'];
  }
  const problems: string[] = [];
  if (header.alg !== 'RS256') problems.push(`JWT alg must be RS256, got ${header.alg}`);
  if (!createVerify('RSA-SHA256').update(`${head}.${claims}`).verify(publicKey, Buffer.from(signature, 'base64url'))) problems.push('the JWT signature does not verify with the App public key');
  const seconds = Math.floor(now / 1000);
  if (String(payload.iss) !== appId) problems.push(`JWT iss must be the App id ${appId}, got ${payload.iss}`);
  if (typeof payload.iat !== 'number' || payload.iat > seconds + 5) problems.push('JWT iat must be a time in the past');
  if (typeof payload.exp !== 'number' || payload.exp <= seconds) problems.push('the JWT has expired');
  else if (payload.exp - seconds > 600) problems.push('JWT exp may be at most ten minutes ahead');
  return problems;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
