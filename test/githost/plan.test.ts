import assert from 'node:assert/strict';
import { test } from 'node:test';
import { githubRepoOf } from '../../src/githost/credentials.js';
import { plannedSteps, type ReportedDeployment } from '../../src/githost/plan.js';

const base: ReportedDeployment = {
  id: 'd1',
  project_id: 'p1',
  seq: 1,
  status: 'queued',
  environment: 'preview',
  branch: 'feature',
  commit_sha: 'a'.repeat(40),
  pr_number: 3,
  started_at: null,
  error_message: null,
  created_at: 0,
};
const steps = (d: Omit<Partial<ReportedDeployment>, 'status'> & { status: string }, aliased = true) => plannedSteps({ ...base, ...d } as ReportedDeployment, aliased);

test('the steps a deployment owes the git host, in order', () => {
  assert.deepEqual(steps({ status: 'queued' }), ['queued']);
  assert.deepEqual(steps({ status: 'building', started_at: 1 }), ['queued', 'in_progress']);
  assert.deepEqual(steps({ status: 'deploying', started_at: 1 }), ['queued', 'in_progress']);
  assert.deepEqual(steps({ status: 'ready', started_at: 1 }), ['queued', 'in_progress', 'success']);
  // a ready preview no alias points at any more was replaced (or its pull request closed)
  assert.deepEqual(steps({ status: 'ready', started_at: 1 }, false), ['queued', 'in_progress', 'success', 'inactive']);
  // production is never "replaced" this way: GitHub shows the newest production deployment anyway
  assert.deepEqual(steps({ status: 'ready', started_at: 1, environment: 'production' }, false), ['queued', 'in_progress', 'success']);
  assert.deepEqual(steps({ status: 'failed', started_at: 1 }), ['queued', 'in_progress', 'failure']);
  // superseded before it started: no in_progress it never had
  assert.deepEqual(steps({ status: 'canceled' }), ['queued', 'error']);
  assert.deepEqual(steps({ status: 'awaiting-approval', started_at: 1 }), ['queued', 'in_progress', 'awaiting']);
  assert.deepEqual(steps({ status: 'rejected', started_at: 1 }), ['queued', 'in_progress', 'failure']);
});

test("a project's GitHub repository from its URL", () => {
  const api = 'https://api.github.com';
  assert.equal(githubRepoOf('https://github.com/acme/site', api), 'acme/site');
  assert.equal(githubRepoOf('https://github.com/acme/site.git', api), 'acme/site');
  assert.equal(githubRepoOf('git@github.com:acme/my.site.git', api), 'acme/my.site');
  assert.equal(githubRepoOf('ssh://git@github.com/acme/site.git', api), 'acme/site');
  assert.equal(githubRepoOf('https://gitlab.com/acme/site', api), undefined);
  assert.equal(githubRepoOf('file:///srv/git/site.git', api), undefined);
  assert.equal(githubRepoOf('https://github.com/acme/site/tree/main', api), undefined);
  // GitHub Enterprise Server: the host of its API URL
  assert.equal(githubRepoOf('https://github.example.com/acme/site.git', 'https://github.example.com/api/v3'), 'acme/site');
});
