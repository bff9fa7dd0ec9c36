/**
 * One request to a git host's REST API, and what its failures mean for the reporter: every
 * failure is retried later, and a rate-limit answer says exactly when (GitHub: 403/429 with
 * `retry-after`, or `x-ratelimit-remaining: 0` with `x-ratelimit-reset`).
 */
export class GitHostError extends Error {
  /** the HTTP status; undefined: no answer (network, timeout) */
  readonly status: number | undefined;
  /** a rate limit: do not ask again before this time (ms since the epoch) */
  readonly retryAt: number | undefined;
  constructor(message: string, opts: { status?: number | undefined; retryAt?: number | undefined; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'GitHostError';
    this.status = opts.status;
    this.retryAt = opts.retryAt;
  }
}

export interface HostRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

const TIMEOUT_MS = 15_000;

/** Send a JSON request; a 2xx answer's JSON body (or undefined) comes back, anything else throws a GitHostError. */
export async function hostRequest<T>(req: HostRequest): Promise<T> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: { ...req.headers, ...(req.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: req.body === undefined ? null : JSON.stringify(req.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new GitHostError(`${req.method} ${pathOf(req.url)}: no answer (${(err as Error).message})`, { cause: err });
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return (text === '' ? undefined : JSON.parse(text)) as T;
  throw new GitHostError(`${req.method} ${pathOf(req.url)} answered ${res.status}: ${summary(text)}`, { status: res.status, retryAt: rateLimitedUntil(res.status, res.headers) });
}

/** When a rate-limited answer allows the next request; undefined: not a rate limit. */
export function rateLimitedUntil(status: number, headers: Headers, now = Date.now()): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && /^\d+$/.test(retryAfter.trim())) return now + Number(retryAfter) * 1000;
  if (headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(headers.get('x-ratelimit-reset'));
    // the reset is whole seconds since the epoch; a second more absorbs clock skew
    if (Number.isFinite(reset) && reset > 0) return Math.max(now, reset * 1000) + 1000;
  }
  // a secondary rate limit without a time: GitHub asks for at least a minute
  return status === 429 ? now + 60_000 : undefined;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function summary(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message.slice(0, 300);
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 300) || '(empty body)';
}
