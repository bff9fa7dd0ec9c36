import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { GitHostError, hostRequest } from './http.js';

/**
 * A GitHub App's JSON Web Token (RS256): issued a minute in the past against clock drift, valid
 * for nine minutes (GitHub refuses more than ten). It only buys installation tokens.
 */
export function appJwt(appId: string, key: KeyObject, now = Date.now()): string {
  const iat = Math.floor(now / 1000) - 60;
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iat, exp: iat + 60 + 540, iss: appId })}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url');
  return `${unsigned}.${signature}`;
}

/** The PEM of an App's private key, checked once; a bad key says so instead of failing every request. */
export function readAppKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key, GitHub Apps use RSA`);
    return key;
  } catch (err) {
    throw new Error(`the GitHub App private key cannot be used: ${(err as Error).message}`, { cause: err });
  }
}

const HEADERS = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'slipway' };
/** an installation token is renewed this long before GitHub says it expires */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * Installation tokens of one GitHub App, per repository: the App's installation on the
 * repository's owner is looked up once, its token kept until shortly before `expires_at`.
 */
export class GitHubAppTokens {
  // promises, so reports running at once share one lookup and one token request
  private readonly installations = new Map<string, Promise<number>>();
  private readonly tokens = new Map<number, { token: Promise<string>; renewAt: number }>();

  constructor(
    private readonly apiUrl: string,
    private readonly appId: string,
    private readonly key: KeyObject,
  ) {}

  async token(repo: string): Promise<string> {
    const installation = await this.installation(repo);
    const cached = this.tokens.get(installation);
    if (cached !== undefined && cached.renewAt > Date.now()) return cached.token;
    const entry = { token: this.newToken(installation, (renewAt) => (entry.renewAt = renewAt)), renewAt: Number.POSITIVE_INFINITY };
    this.tokens.set(installation, entry);
    // a failed request is not kept: the next report asks again
    entry.token.catch(() => this.tokens.get(installation) === entry && this.tokens.delete(installation));
    return entry.token;
  }

  private async newToken(installation: number, renewAt: (at: number) => void): Promise<string> {
    const answer = await hostRequest<{ token?: unknown; expires_at?: unknown }>({
      method: 'POST',
      url: `${this.apiUrl}/app/installations/${installation}/access_tokens`,
      headers: { ...HEADERS, authorization: `Bearer ${appJwt(this.appId, this.key)}` },
    });
    if (typeof answer?.token !== 'string') throw new GitHostError('GitHub answered an installation token request without a token');
    const expires = typeof answer.expires_at === 'string' ? Date.parse(answer.expires_at) : Number.NaN;
    // an unreadable expiry: assume the shortest GitHub gives out (one hour)
    renewAt((Number.isFinite(expires) ? expires : Date.now() + 3_600_000) - RENEW_BEFORE_MS);
    return answer.token;
  }

  private installation(repo: string): Promise<number> {
    const known = this.installations.get(repo);
    if (known !== undefined) return known;
    const lookup = (async () => {
      const answer = await hostRequest<{ id?: unknown }>({
        method: 'GET',
        url: `${this.apiUrl}/repos/${repo}/installation`,
        headers: { ...HEADERS, authorization: `Bearer ${appJwt(this.appId, this.key)}` },
      });
      if (typeof answer?.id !== 'number') throw new GitHostError(`GitHub named no installation of the App on ${repo}`);
      return answer.id;
    })();
    this.installations.set(repo, lookup);
    lookup.catch(() => this.installations.get(repo) === lookup && this.installations.delete(repo));
    return lookup;
  }
}

export const GITHUB_HEADERS: Readonly<Record<string, string>> = HEADERS;
