import { resolveAuth, type AuthFlags } from './credentials.js';

/** Thrown for an API error answer; the CLI prints message and hint, no stack, and picks the exit code from `status`. */
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

export type ClientOptions = AuthFlags;

/**
 * A small client for the Slipway API; where the URL and token come from is `resolveAuth`'s
 * order (flag > environment > stored login > local admin-token file).
 * `await new Client({ url }).request<{ projects: unknown[] }>('GET', '/api/v1/projects')`
 */
export class Client {
  readonly url: string;
  private readonly token: string;

  constructor(opts: ClientOptions) {
    const auth = resolveAuth(opts);
    this.url = auth.url;
    this.token = auth.token;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, body === undefined ? undefined : { 'content-type': 'application/json' }, body === undefined ? null : JSON.stringify(body));
  }

  /**
   * Every item of a paged list (or the first `max`), following `nextCursor` page by page.
   * `await api.list<Project>('/api/v1/projects', 'projects')`
   */
  async list<T>(path: string, items: string, max = Number.POSITIVE_INFINITY): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const limit = Math.min(200, max - out.length);
      const sep = path.includes('?') ? '&' : '?';
      const page: Record<string, unknown> = await this.request('GET', `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      out.push(...((page[items] as T[] | undefined) ?? []));
      cursor = typeof page.nextCursor === 'string' ? page.nextCursor : null;
    } while (cursor !== null && out.length < max);
    return out;
  }

  /** Stream bytes (a blob upload) without holding them in memory. */
  async upload<T>(path: string, body: AsyncIterable<Uint8Array>, size: number): Promise<T> {
    return this.send<T>('PUT', path, { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body);
  }

  /**
   * Read a server-sent event stream until the server ends it; calls `onEvent` for each event.
   * `lastEventId` resumes after an event already seen (the server's `id:` lines). Returns the
   * last event id seen, so a caller can reconnect from there when the connection drops.
   */
  async events(path: string, onEvent: (type: string, data: string, id: string | undefined) => void, lastEventId?: string): Promise<string | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream', ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
      });
    } catch {
      throw new ApiError(0, 'UNREACHABLE', `Cannot reach Slipway at ${this.url}.`, 'Start it with "slipway up", or point the CLI at it with --url or SLIPWAY_URL.');
    }
    if (!res.ok || res.body === null) {
      const e = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } }).error;
      throw new ApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `HTTP ${res.status}`, e?.hint);
    }
    let last = lastEventId;
    let type = 'message';
    let data: string[] = [];
    let id: string | undefined;
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) onEvent(type, data.join('\n'), id);
          if (id !== undefined) last = id;
          type = 'message';
          data = [];
          id = undefined;
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') type = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') id = value;
        }
      }
    }
    return last;
  }

  private async send<T>(method: string, path: string, headers: Record<string, string> | undefined, body: string | AsyncIterable<Uint8Array> | null): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...headers },
        body: body as RequestInit['body'],
        // a streamed body needs half-duplex (Node's fetch)
        ...(body !== null && typeof body !== 'string' ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch {
      throw new ApiError(0, 'UNREACHABLE', `Cannot reach Slipway at ${this.url}.`, 'Start it with "slipway up", or point the CLI at it with --url or SLIPWAY_URL.');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'BAD_RESPONSE', `Unexpected answer from ${this.url} (HTTP ${res.status}).`, 'Check that --url points at the Slipway API, not the edge.');
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; hint?: string } }).error;
      throw new ApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `HTTP ${res.status}`, e?.hint);
    }
    return json as T;
  }
}
