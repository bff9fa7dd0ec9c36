import { readFileSync } from 'node:fs';
import type { GitHostConfig } from '../config/index.js';
import { AppError } from '../errors/index.js';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { GitHubAppTokens, readAppKey } from './github-app.js';
import { GitHubTarget } from './github.js';
import { GitLabTarget } from './gitlab.js';
import type { HostTarget } from './target.js';
import { readTeamGitHosts, type Provider } from './team-settings.js';
import { logger } from '../log/index.js';

const credentialsLog = logger('githost');

/**
 * Which credentials report a project's deployments: its team's own (PUT /teams/<team>/git-host)
 * when set for that provider, else the operator's (SLIPWAY_GITHUB_*, SLIPWAY_GITLAB_*). Targets
 * are kept, so a GitHub App's installation tokens are reused until they near expiry; a team's
 * secret is read and decrypted again only when it changed.
 */
export class Credentials {
  /** by "<team> <provider>"; target undefined: the team's credentials cannot be used (logged once) */
  private readonly teams = new Map<string, { updatedAt: number; target: HostTarget | undefined }>();
  private readonly platform: Partial<Record<Provider, HostTarget>> = {};
  private readonly githubApiUrl: string;
  private readonly gitlabUrl: string;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    config: GitHostConfig,
  ) {
    if (config.githubAppId !== undefined && config.githubAppPrivateKeyFile !== undefined) {
      const key = readPlatformAppKey(config.githubAppPrivateKeyFile);
      this.platform.github = new GitHubTarget(config.githubApiUrl, { kind: 'app', appId: config.githubAppId, tokens: new GitHubAppTokens(config.githubApiUrl, config.githubAppId, key) });
    } else if (config.githubToken !== undefined) {
      this.platform.github = new GitHubTarget(config.githubApiUrl, { kind: 'token', token: config.githubToken });
    }
    if (config.gitlabToken !== undefined) this.platform.gitlab = new GitLabTarget(config.gitlabUrl, config.gitlabToken);
    this.githubApiUrl = config.githubApiUrl;
    this.gitlabUrl = config.gitlabUrl;
  }

  /** Catch up with the teams' credentials (one small query; a secret is decrypted only when it changed). */
  async refresh(): Promise<void> {
    const rows = await this.db.selectFrom('team_git_hosts').select(['team_id', 'provider', 'updated_at']).execute();
    const present = new Set<string>();
    for (const row of rows) {
      const key = `${row.team_id} ${row.provider}`;
      present.add(key);
      if (this.teams.get(key)?.updatedAt === Number(row.updated_at)) continue;
      this.teams.set(key, { updatedAt: Number(row.updated_at), target: await this.teamTarget(row.team_id, row.provider) });
    }
    for (const key of this.teams.keys()) if (!present.has(key)) this.teams.delete(key);
  }

  /** The target for a team's project; undefined: nobody configured that provider. */
  target(teamId: string | null, provider: Provider): HostTarget | undefined {
    const own = teamId === null ? undefined : this.teams.get(`${teamId} ${provider}`);
    // a team with its own credentials is never reported with the operator's instead
    return own !== undefined ? own.target : this.platform[provider];
  }

  private async teamTarget(teamId: string, provider: Provider): Promise<HostTarget | undefined> {
    try {
      const h = (await readTeamGitHosts({ db: this.db }, this.box, teamId)).find((x) => x.provider === provider);
      if (h === undefined) return undefined;
      if (h.provider === 'gitlab') return new GitLabTarget(h.apiUrl ?? this.gitlabUrl, h.token ?? '');
      const apiUrl = h.apiUrl ?? this.githubApiUrl;
      return h.appId !== undefined && h.privateKey !== undefined
        ? new GitHubTarget(apiUrl, { kind: 'app', appId: h.appId, tokens: new GitHubAppTokens(apiUrl, h.appId, readAppKey(h.privateKey)) })
        : new GitHubTarget(apiUrl, { kind: 'token', token: h.token ?? '' });
    } catch (err) {
      credentialsLog.warn(`the ${provider} credentials of team ${teamId} cannot be used (${(err as Error).message}); its deployments are not reported until they are set again`);
      return undefined;
    }
  }
}

/** Check the operator's git host settings at start-up: an App key that cannot be used stops the start. */
export function checkGitHostConfig(config: GitHostConfig): void {
  if (config.githubAppId !== undefined && config.githubAppPrivateKeyFile !== undefined) readPlatformAppKey(config.githubAppPrivateKeyFile);
}

/** The operator's App key file; a key that cannot be used stops the start with what is wrong. */
function readPlatformAppKey(file: string) {
  try {
    return readAppKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG', `--github-app-private-key-file ${file}: ${(err as Error).message}.`, {
      cause: err,
      hint: "Point it at the PEM file GitHub made on the App's settings page, e.g. --github-app-private-key-file /etc/slipway/github-app.pem",
    });
  }
}

/**
 * "owner/name" of a GitHub repository URL (https, ssh or scp-like, with or without .git); the
 * host must be github.com or the GitHub Enterprise host of `apiUrl`.
 */
export function githubRepoOf(repoUrl: string, apiUrl: string): string | undefined {
  let host: string;
  let path: string;
  const scp = /^[\w.-]+@([^:/]+):(.+)$/.exec(repoUrl);
  if (scp !== null) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    try {
      const u = new URL(repoUrl);
      host = u.hostname;
      path = u.pathname;
    } catch {
      return undefined;
    }
  }
  const apiHost = (() => {
    try {
      return new URL(apiUrl).hostname;
    } catch {
      return '';
    }
  })();
  if (host !== 'github.com' && host !== apiHost.replace(/^api\./, '')) return undefined;
  const m = /^\/?([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(path);
  return m === null ? undefined : `${m[1]}/${m[2]}`;
}
