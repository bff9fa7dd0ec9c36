import { readFileSync } from 'node:fs';
import type { GitHostConfig } from '../config/index.js';
import { AppError } from '../errors/index.js';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { GitHubAppTokens, readAppKey } from './github-app.js';
import { GitHubTarget } from './github.js';
import { GitLabTarget } from './gitlab.js';
import type { HostTarget } from './target.js';
import { readTeamGitHosts, type Provider, type TeamGitHost } from './team-settings.js';

/**
 * Which credentials report a project's deployments: its team's own (PUT /teams/<team>/git-host)
 * when set for that provider, else the operator's (SLIPWAY_GITHUB_*, SLIPWAY_GITLAB_*). Targets
 * are kept, so a GitHub App's installation tokens are reused until they near expiry.
 */
export class Credentials {
  private readonly teamTargets = new Map<string, { updatedAt: number; target: HostTarget }>();
  private readonly platform: Partial<Record<Provider, HostTarget>>;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    config: GitHostConfig,
  ) {
    this.platform = {};
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

  private readonly githubApiUrl: string;
  private readonly gitlabUrl: string;

  /** The target for a team's project; undefined: nobody configured that provider. */
  async target(teamId: string | null, provider: Provider): Promise<HostTarget | undefined> {
    if (teamId !== null) {
      const own = (await readTeamGitHosts({ db: this.db }, this.box, teamId)).find((h) => h.provider === provider);
      if (own !== undefined) return this.teamTarget(teamId, own);
    }
    return this.platform[provider];
  }

  /** Whether some credentials could report for this provider (deciding if a by-hand deployment is reported). */
  async any(teamId: string | null, provider: Provider): Promise<boolean> {
    return (await this.target(teamId, provider)) !== undefined;
  }

  private teamTarget(teamId: string, h: TeamGitHost): HostTarget {
    const key = `${teamId} ${h.provider}`;
    const known = this.teamTargets.get(key);
    if (known !== undefined && known.updatedAt === h.updatedAt) return known.target;
    let target: HostTarget;
    if (h.provider === 'gitlab') {
      target = new GitLabTarget(h.apiUrl ?? this.gitlabUrl, h.token ?? '');
    } else {
      const apiUrl = h.apiUrl ?? this.githubApiUrl;
      target =
        h.appId !== undefined && h.privateKey !== undefined
          ? new GitHubTarget(apiUrl, { kind: 'app', appId: h.appId, tokens: new GitHubAppTokens(apiUrl, h.appId, readAppKey(h.privateKey)) })
          : new GitHubTarget(apiUrl, { kind: 'token', token: h.token ?? '' });
    }
    this.teamTargets.set(key, { updatedAt: h.updatedAt, target });
    return target;
  }
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
