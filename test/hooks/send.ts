import { createHmac, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/paths.js';

export type Hook = { status: number; body: any };

/** A real payload: a GitHub one from @octokit/webhooks-examples, the first whose fields match `where`. */
export function githubExample(event: 'push' | 'pull_request', where: (p: any) => boolean): any {
  const require = createRequire(import.meta.url);
  const all = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
  const found = all.find((e) => e.name === event)?.examples.find(where);
  if (found === undefined) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

/** One of the GitLab or Gitea payloads under test/fixtures/webhooks (see SOURCE.md there). */
export async function hookFixture(name: string): Promise<any> {
  return JSON.parse(await readFile(join(fixturesDir, 'webhooks', name), 'utf8'));
}

async function post(url: string, headers: Record<string, string>, raw: string): Promise<Hook> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** As GitHub sends it: X-Hub-Signature-256 over the body. */
export function sendGithub(apiUrl: string, project: string, secret: string, event: string, payload: unknown, delivery: string = randomUUID()): Promise<Hook> {
  const raw = JSON.stringify(payload);
  const signature = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  return post(`${apiUrl}/hooks/github/${project}`, { 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': signature }, raw);
}

/** As GitLab sends it: the secret token in X-Gitlab-Token; `uuid: null` leaves X-Gitlab-Event-UUID out. */
export function sendGitlab(apiUrl: string, project: string, token: string, event: string, payload: unknown, uuid: string | null = randomUUID()): Promise<Hook> {
  const headers: Record<string, string> = { 'x-gitlab-event': event, 'x-gitlab-token': token, 'user-agent': 'GitLab/17.0.0' };
  if (uuid !== null) headers['x-gitlab-event-uuid'] = uuid;
  return post(`${apiUrl}/hooks/gitlab/${project}`, headers, JSON.stringify(payload));
}

/** As Gitea sends it: X-Gitea-Signature is the hex HMAC-SHA256 of the body. */
export function sendGitea(apiUrl: string, project: string, secret: string, event: string, payload: unknown, delivery: string = randomUUID()): Promise<Hook> {
  const raw = JSON.stringify(payload);
  const signature = createHmac('sha256', secret).update(raw).digest('hex');
  return post(`${apiUrl}/hooks/gitea/${project}`, { 'x-gitea-event': event, 'x-gitea-delivery': delivery, 'x-gitea-signature': signature }, raw);
}
