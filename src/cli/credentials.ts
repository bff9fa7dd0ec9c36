import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What `slipway login` keeps per API URL: a personal token (and its id, to revoke it at logout). */
export interface StoredLogin {
  token: string;
  tokenId: string | null;
  email: string | null;
}

/** $SLIPWAY_CONFIG_DIR, else $XDG_CONFIG_HOME/slipway, else ~/.config/slipway. */
export function configDir(): string {
  return process.env.SLIPWAY_CONFIG_DIR ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'slipway');
}

function file(): string {
  return join(configDir(), 'credentials.json');
}

function readAll(): Record<string, StoredLogin> {
  try {
    return JSON.parse(readFileSync(file(), 'utf8')) as Record<string, StoredLogin>;
  } catch {
    return {};
  }
}

export function storedLogin(url: string): StoredLogin | undefined {
  return readAll()[url];
}

/** Write the credentials file with mode 0600 (in a 0700 folder), via a temp file and rename. */
export function saveLogin(url: string, login: StoredLogin | undefined): void {
  const all = readAll();
  if (login === undefined) delete all[url];
  else all[url] = login;
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const tmp = `${file()}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file());
}
