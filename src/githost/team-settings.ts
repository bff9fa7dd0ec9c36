import { AppError } from '../errors/index.js';
import type { SecretBox } from '../secrets.js';
import type { Db, Store } from '../store/index.js';
import { readAppKey } from './github-app.js';

export type Provider = 'github' | 'gitlab';

/** A team's own git host credentials, decrypted (only the reporter sees these). */
export interface TeamGitHost {
  provider: Provider;
  apiUrl: string | null;
  token?: string;
  appId?: string;
  privateKey?: string;
  updatedAt: number;
}

/**
 * Check a PUT /teams/<team>/git-host body: `{provider, token}` or, for GitHub, `{provider,
 * appId, privateKey}`, with an optional `apiUrl` (GitHub Enterprise Server, self-managed GitLab).
 */
export function parseTeamGitHost(body: unknown): Omit<TeamGitHost, 'updatedAt'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError('VALIDATION', 'The body must be a JSON object.', { hint: 'For example: {"provider": "github", "token": "ghp_..."}' });
  const b = body as Record<string, unknown>;
  const known = new Set(['provider', 'token', 'appId', 'privateKey', 'apiUrl']);
  const extra = Object.keys(b).filter((k) => !known.has(k));
  if (extra.length > 0) throw new AppError('VALIDATION', `Unknown field ${JSON.stringify(extra[0])}.`, { hint: 'The fields are provider, token, appId, privateKey and apiUrl.' });
  if (b.provider !== 'github' && b.provider !== 'gitlab')
    throw new AppError('VALIDATION', 'provider must be "github" or "gitlab".', { hint: 'For example: {"provider": "github", "token": "ghp_..."}' });
  const apiUrl = b.apiUrl ?? null;
  if (apiUrl !== null && (typeof apiUrl !== 'string' || !/^https?:\/\/[^/\s]+/.test(apiUrl))) {
    throw new AppError('VALIDATION', 'apiUrl must be an http(s) URL.', { hint: 'For example: "https://github.example.com/api/v3" or "https://gitlab.example.com"' });
  }
  const url = apiUrl === null ? null : apiUrl.replace(/\/+$/, '');
  const hasApp = b.appId !== undefined || b.privateKey !== undefined;
  if (b.token !== undefined && hasApp) throw new AppError('VALIDATION', 'Give a token or a GitHub App (appId and privateKey), not both.');
  if (hasApp) {
    if (b.provider !== 'github') throw new AppError('VALIDATION', 'Only GitHub has Apps; give GitLab a token.', { hint: 'For example: {"provider": "gitlab", "token": "glpat-..."}' });
    if (typeof b.appId !== 'string' && typeof b.appId !== 'number')
      throw new AppError('VALIDATION', 'appId must be the GitHub App id.', { hint: 'For example: {"provider": "github", "appId": "123456", "privateKey": "-----BEGIN RSA PRIVATE KEY-----..."}' });
    const appId = String(b.appId);
    if (!/^\d+$/.test(appId)) throw new AppError('VALIDATION', 'appId must be a number.', { hint: "Copy the App ID from the App's settings page on GitHub." });
    if (typeof b.privateKey !== 'string')
      throw new AppError('VALIDATION', "privateKey must be the App's PEM private key.", { hint: "Generate one on the App's settings page and send the file's whole text." });
    try {
      readAppKey(b.privateKey);
    } catch (err) {
      throw new AppError('VALIDATION', `privateKey: ${(err as Error).message}.`, { hint: 'Send the whole PEM file GitHub gave you, newlines included.' });
    }
    return { provider: 'github', apiUrl: url, appId, privateKey: b.privateKey };
  }
  if (typeof b.token !== 'string' || b.token.trim() === '' || b.token.length > 1000) {
    throw new AppError('VALIDATION', 'token must be the git host token.', { hint: 'For example: {"provider": "github", "token": "ghp_..."}' });
  }
  return { provider: b.provider, apiUrl: url, token: b.token.trim() };
}

export async function saveTeamGitHost(db: Db, box: SecretBox, teamId: string, host: Omit<TeamGitHost, 'updatedAt'>): Promise<void> {
  const secret = box.encrypt(JSON.stringify(host.token !== undefined ? { token: host.token } : { appId: host.appId, privateKey: host.privateKey }));
  const now = Date.now();
  await db
    .insertInto('team_git_hosts')
    .values({ team_id: teamId, provider: host.provider, secret, api_url: host.apiUrl, updated_at: now })
    .onConflict((oc) => oc.columns(['team_id', 'provider']).doUpdateSet({ secret, api_url: host.apiUrl, updated_at: now }))
    .execute();
}

export async function deleteTeamGitHost(db: Db, teamId: string, provider: Provider): Promise<boolean> {
  const r = await db.deleteFrom('team_git_hosts').where('team_id', '=', teamId).where('provider', '=', provider).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function readTeamGitHosts(store: Store | { db: Db }, box: SecretBox, teamId: string): Promise<TeamGitHost[]> {
  const rows = await store.db.selectFrom('team_git_hosts').selectAll().where('team_id', '=', teamId).orderBy('provider').execute();
  return rows.map((r) => ({
    provider: r.provider,
    apiUrl: r.api_url,
    updatedAt: Number(r.updated_at),
    ...(JSON.parse(box.decrypt(r.secret)) as { token?: string; appId?: string; privateKey?: string }),
  }));
}

/** What GET /teams/<team>/git-host shows: which credentials are set, never their secret parts. */
export function maskTeamGitHost(h: TeamGitHost) {
  return {
    provider: h.provider,
    kind: h.token !== undefined ? 'token' : 'app',
    apiUrl: h.apiUrl,
    ...(h.token !== undefined ? { token: `…${h.token.slice(-4)}` } : { appId: h.appId, privateKey: '(set)' }),
    updatedAt: new Date(h.updatedAt).toISOString(),
  };
}
