import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { storedLogin } from './credentials.js';

/** Thrown for an API error answer; the CLI prints message and hint, no stack. */
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

export interface ClientOptions {
  url?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
}

/**
 * A small client for the Slipway API. The URL comes from --url or SLIPWAY_URL (default
 * http://localhost:3000); the token from --token, SLIPWAY_TOKEN, or the admin token file in the
 * data dir of a local `slipway up`.
 */
export class Client {
  readonly url: string;
  private readonly token: string;

  constructor(opts: ClientOptions) {
    this.url = (opts.url ?? process.env.SLIPWAY_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
    // then the token `slipway login` stored for this URL, then a local install's admin token
    this.token = opts.token ?? process.env.SLIPWAY_TOKEN ?? storedLogin(this.url)?.token ?? readTokenFile(opts.dataDir ?? process.env.SLIPWAY_DATA_DIR ?? '.slipway');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'UNREACHABLE', `Cannot reach Slipway at ${this.url}.`, 'Start it with "npm start" (or "slipway up"), or set SLIPWAY_URL.');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'BAD_RESPONSE', `Unexpected answer from ${this.url} (HTTP ${res.status}).`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; hint?: string } }).error;
      throw new ApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `HTTP ${res.status}`, e?.hint);
    }
    return json as T;
  }
}

function readTokenFile(dataDir: string): string {
  const file = join(resolve(dataDir), 'admin-token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new ApiError(0, 'NO_TOKEN', `No API token: SLIPWAY_TOKEN is not set and ${file} cannot be read.`, 'Set SLIPWAY_TOKEN, pass --token, or run the command where "slipway up" keeps its data (--data-dir).');
  }
}
