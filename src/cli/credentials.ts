import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ApiError } from './client.js';

/**
 * What `slipway login` stores: the server and the token to send it (a personal token, with its
 * id so `logout` can revoke it, and the email it belongs to, for `whoami` without a round trip).
 */
export interface StoredLogin {
  url: string;
  token: string;
  tokenId?: string | null;
  email?: string | null;
}

export const DEFAULT_URL = 'http://localhost:3000';

/** $SLIPWAY_CONFIG_DIR, else `$XDG_CONFIG_HOME/slipway`, else `~/.config/slipway`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if ((env.SLIPWAY_CONFIG_DIR ?? '') !== '') return env.SLIPWAY_CONFIG_DIR!;
  return join((env.XDG_CONFIG_HOME ?? '') !== '' ? env.XDG_CONFIG_HOME! : join(homedir(), '.config'), 'slipway');
}

/** `<configDir>/auth.json`: one login at a time; logging in elsewhere replaces it. */
export function loginFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'auth.json');
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): StoredLogin | undefined {
  let text: string;
  try {
    text = readFileSync(loginFile(env), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<StoredLogin>;
    if (typeof value.url === 'string' && typeof value.token === 'string') return { ...value, url: normaliseUrl(value.url), token: value.token };
  } catch {
    // a damaged file is as good as none; `slipway login` writes it again
  }
  return undefined;
}

/** The stored login when it was made for `url`. */
export function storedLogin(url: string, env: NodeJS.ProcessEnv = process.env): StoredLogin | undefined {
  const login = readLogin(env);
  return login !== undefined && login.url === normaliseUrl(url) ? login : undefined;
}

/**
 * Store the login for `url` (mode 0600, its folder 0700), written to a temp file and renamed so
 * it is never half there; `undefined` forgets the login of `url` (a login of another server stays).
 * Returns the file. `saveLogin('https://slipway.example.com', { token: 'slp_pat_…' })`
 */
export function saveLogin(url: string, login: Omit<StoredLogin, 'url'> | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const file = loginFile(env);
  if (login === undefined) {
    if (storedLogin(url, env) !== undefined) rmSync(file, { force: true });
    return file;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...login, url: normaliseUrl(url) }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

export function normaliseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

const set = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

/** The server alone (what `slipway login` needs before it has a token): --url > SLIPWAY_URL > the stored login's > the default. */
export function resolveUrl(flags: Pick<AuthFlags, 'url'>, env: NodeJS.ProcessEnv = process.env): string {
  return normaliseUrl(set(flags.url) ?? set(env.SLIPWAY_URL) ?? readLogin(env)?.url ?? DEFAULT_URL);
}

export interface AuthFlags {
  url?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
}

/**
 * Which server and which token a command uses. URL: --url > SLIPWAY_URL > the stored login's >
 * http://localhost:3000. Token: --token > SLIPWAY_TOKEN > the stored login (only when it was
 * made for this same URL, so a token is never sent to another server) > the admin-token file of
 * a local `slipway up` (--data-dir, SLIPWAY_DATA_DIR, default .slipway).
 */
export function resolveAuth(flags: AuthFlags, env: NodeJS.ProcessEnv = process.env): { url: string; token: string; source: string } {
  const stored = readLogin(env);
  const url = resolveUrl(flags, env);
  const flag = set(flags.token);
  if (flag !== undefined) return { url, token: flag, source: '--token' };
  const fromEnv = set(env.SLIPWAY_TOKEN);
  if (fromEnv !== undefined) return { url, token: fromEnv, source: 'SLIPWAY_TOKEN' };
  if (stored?.url === url) return { url, token: stored.token, source: loginFile(env) };
  const file = join(resolve(set(flags.dataDir) ?? set(env.SLIPWAY_DATA_DIR) ?? '.slipway'), 'admin-token');
  try {
    return { url, token: readFileSync(file, 'utf8').trim(), source: file };
  } catch {
    throw new ApiError(
      0,
      'NO_TOKEN',
      `Not logged in to ${url}: no --token, no SLIPWAY_TOKEN, no stored login for it, and ${file} cannot be read.`,
      'Log in with "slipway login", pass --token or set SLIPWAY_TOKEN, or run the command where "slipway up" keeps its data (--data-dir).',
    );
  }
}
