import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { checkGitHostConfig } from '../../src/githost/index.js';

test('git host settings: flags win over SLIPWAY_* variables, defaults are GitHub.com and GitLab.com', () => {
  const defaults = loadConfig({}, {}).gitHost;
  assert.equal(defaults.githubApiUrl, 'https://api.github.com');
  assert.equal(defaults.gitlabUrl, 'https://gitlab.com');
  assert.equal(defaults.githubToken, undefined);
  const c = loadConfig({ 'github-api-url': 'https://ghe.example.com/api/v3/' }, { SLIPWAY_GITHUB_TOKEN: 'ghp_env', SLIPWAY_GITHUB_API_URL: 'https://other.example.com' }).gitHost;
  assert.equal(c.githubToken, 'ghp_env');
  assert.equal(c.githubApiUrl, 'https://ghe.example.com/api/v3');
});

test('bad git host settings stop the start with an example', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ 'github-app-id': '12' }, /needs both/],
    [{ 'github-app-id': 'abc', 'github-app-private-key-file': '/x.pem' }, /numeric id/],
    [{ 'github-api-url': 'api.github.com' }, /http\(s\) URL/],
    [{ 'gitlab-url': 'gitlab.example.com' }, /http\(s\) URL/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(
      () => loadConfig(flags, {}),
      (err: any) => err.code === 'CONFIG' && message.test(err.message) && /For example/.test(err.hint),
      JSON.stringify(flags),
    );
  }
  const missingKey = loadConfig({ 'github-app-id': '12', 'github-app-private-key-file': '/nonexistent/app.pem' }, {}).gitHost;
  assert.throws(
    () => checkGitHostConfig(missingKey),
    (err: any) => err.code === 'CONFIG' && /app\.pem/.test(err.message),
  );
});
