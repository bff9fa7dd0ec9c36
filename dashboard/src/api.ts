// The dashboard's only way to the server: JSON over fetch, errors as ApiError (the API's code,
// message and hint), and server-sent events read with fetch so a bearer token works as well as
// the session cookie (EventSource cannot send an Authorization header).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'slipway.token';
let csrfToken: string | undefined;
let onUnauthorized: () => void = () => {};

/** A bearer token kept for this tab only (sessionStorage), when the server has no session login. */
export function bearerToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setBearerToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

function headers(method: string, json: boolean, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json', ...extra };
  if (json) h['content-type'] = 'application/json';
  const token = bearerToken();
  if (token !== null) h.authorization = `Bearer ${token}`;
  else if (method !== 'GET' && csrfToken !== undefined) h['x-csrf-token'] = csrfToken;
  return h;
}

async function errorFrom(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; hint?: string } } | undefined;
  try {
    body = (await res.json()) as typeof body;
  } catch {
    body = undefined;
  }
  const e = body?.error;
  if (e?.message !== undefined) return new ApiError(res.status, e.code ?? 'ERROR', e.message, e.hint);
  return new ApiError(res.status, `HTTP_${res.status}`, `The server answered ${res.status} ${res.statusText}.`, res.status >= 500 ? 'The server log has the details.' : undefined);
}

function networkError(): ApiError {
  return new ApiError(0, 'NETWORK', 'Could not reach the Slipway API.', 'Check your connection and that Slipway is running, then try again.');
}

/** `await api('GET', '/projects')`: the parsed JSON answer (undefined for 204), or throws ApiError. */
export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers: headers(method, body !== undefined), body: body === undefined ? null : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw networkError();
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && opts.quiet401 !== true) onUnauthorized();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/**
 * Every item of a paged list, following `nextCursor` (200 a request; the pages a person manages
 * here, such as tokens or members, are short). `await apiList<Project>('/projects', 'projects')`
 */
export async function apiList<T>(path: string, items: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Record<string, unknown> = await api('GET', `${path}${sep}limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    out.push(...((page[items] as T[] | undefined) ?? []));
    cursor = typeof page.nextCursor === 'string' ? page.nextCursor : null;
  } while (cursor !== null);
  return out;
}

export interface StreamHandlers {
  onEvent: (type: string, data: string) => void;
  /** the stream is open (again) */
  onOpen?: () => void;
  /** the stream failed; it is retried unless `final` */
  onError?: (err: ApiError, final: boolean) => void;
}

/**
 * Read a server-sent event stream at `/api/v1<path>`, reconnecting (with Last-Event-ID) when the
 * connection drops, until the server ends it with an `end` event or `close()` is called.
 */
export function stream(path: string, handlers: StreamHandlers): () => void {
  const abort = new AbortController();
  let lastId: string | undefined;
  let retryMs = 1000;
  let done = false;
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted && !done) {
      try {
        const extra: Record<string, string> = { accept: 'text/event-stream' };
        if (lastId !== undefined) extra['last-event-id'] = lastId;
        const res = await fetch(`/api/v1${path}`, { headers: headers('GET', false, extra), credentials: 'same-origin', signal: abort.signal });
        if (!res.ok || res.body === null) {
          const err = await errorFrom(res);
          const final = res.status >= 400 && res.status < 500;
          if (res.status === 401) onUnauthorized();
          handlers.onError?.(err, final);
          if (final) return;
        } else {
          handlers.onOpen?.();
          retryMs = 1000;
          await readEvents(res.body, (type, data, id) => {
            if (id !== undefined) lastId = id;
            if (type === 'end') done = true;
            handlers.onEvent(type, data);
          });
          if (done) return;
        }
      } catch {
        if (abort.signal.aborted) return;
        handlers.onError?.(networkError(), false);
      }
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(retryMs * 2, 15_000);
    }
  };
  void run();
  return () => abort.abort();
}

/** Parse the text/event-stream format (fields event, data, id; blank line ends an event). */
async function readEvents(body: ReadableStream<Uint8Array>, emit: (type: string, data: string, id: string | undefined) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  let type = 'message';
  let data: string[] = [];
  let id: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) emit(type, data.join('\n'), id);
        type = 'message';
        data = [];
        id = undefined;
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
    }
  }
}
