import type { FastifyPluginAsync } from 'fastify';
import { createDeployment } from '../../deployments/index.js';
import { AppError } from '../../errors/index.js';
import { findProject } from '../../projects/index.js';
import { verifyGithubSignature } from '../../secrets.js';
import { systemSchemas } from '../schemas/resources.js';
import type { ApiDeps } from '../server.js';

const HOOK_BODY_LIMIT = 5 * 1024 * 1024;
const SHA = /^[0-9a-f]{40}$/;

interface PushPayload {
  ref?: unknown;
  after?: unknown;
  before?: unknown;
  deleted?: unknown;
  head_commit?: { message?: unknown; author?: { name?: unknown } } | null;
}

type Answer = { status: number; body: Record<string, unknown> };

/**
 * GitHub webhooks: POST /hooks/github/<project>. The signature is checked over the raw bytes
 * before anything is parsed or recorded; a delivery id seen before gets the first answer again
 * and never a second deployment (invariant 4).
 */
export function hookRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, queue, box, events } = deps;
  return async (app) => {
    // Keep the raw bytes: the HMAC is over them, not over a re-serialisation.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HOOK_BODY_LIMIT }, (_req, body: Buffer, done) => done(null, body));

    // public: the signature over the body is this route's own check
    app.post<{ Params: { project: string } }>('/github/:project', { schema: systemSchemas.github, bodyLimit: HOOK_BODY_LIMIT, config: { access: { public: true } } }, async (req, reply) => {
      const project = await findProject(store.db, req.params.project);
      if (project === undefined) throw new AppError('PROJECT_NOT_FOUND', `No project named "${req.params.project}".`, { hint: 'Check the webhook URL; it ends with the project name.' });
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const signature = header(req.headers['x-hub-signature-256']);
      if (signature === undefined) throw new AppError('BAD_SIGNATURE', 'The X-Hub-Signature-256 header is missing.');
      if (!verifyGithubSignature(box.decrypt(project.webhook_secret), raw, signature)) throw new AppError('BAD_SIGNATURE', 'The webhook signature does not match.');

      const event = header(req.headers['x-github-event']);
      const delivery = header(req.headers['x-github-delivery']);
      if (event === undefined) throw new AppError('BAD_REQUEST', 'The X-GitHub-Event header is missing.', { hint: 'Send GitHub webhook deliveries unchanged.' });
      if (delivery === undefined || delivery.length > 200)
        throw new AppError('BAD_REQUEST', 'The X-GitHub-Delivery header is missing or too long.', { hint: 'Send GitHub webhook deliveries unchanged.' });
      const payload = parsePayload(raw, header(req.headers['content-type']));

      if (event === 'ping') return reply.code(200).send({ ok: true, project: project.name });
      if (event !== 'push') return reply.code(202).send({ ignored: `event "${event}" is not handled` });

      const answer = await store.tx(async (db): Promise<Answer & { created: boolean }> => {
        const seen = await db.selectFrom('webhook_deliveries').select('response').where('delivery_id', '=', delivery).executeTakeFirst();
        if (seen !== undefined) return { ...(JSON.parse(seen.response) as Answer), created: false };
        const decision = decidePush(payload, project.production_branch);
        let result: Answer;
        if ('ignored' in decision) {
          result = { status: 202, body: { ignored: decision.ignored } };
        } else {
          const d = await createDeployment(db, queue, box, {
            project,
            sha: decision.sha,
            branch: decision.branch,
            trigger: 'webhook',
            commitMessage: decision.message,
            commitAuthor: decision.author,
            // only what this push says it replaced: a replayed old push must not cancel a newer one
            supersedes: decision.before === undefined ? [decision.sha] : [decision.before, decision.sha],
          });
          result = { status: 202, body: { deploymentId: d.id } };
        }
        await db
          .insertInto('webhook_deliveries')
          .values({
            delivery_id: delivery,
            project_id: project.id,
            deployment_id: typeof result.body.deploymentId === 'string' ? result.body.deploymentId : null,
            response: JSON.stringify(result),
            received_at: Date.now(),
          })
          .execute();
        return { ...result, created: 'deploymentId' in result.body };
      });
      if (answer.created) events.emit('job-enqueued');
      return reply.code(answer.status).send(answer.body);
    });
  };
}

function header(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === '' ? undefined : v;
}

/** GitHub sends JSON, or `payload=<json>` when the hook's content type is form-encoded. */
function parsePayload(raw: Buffer, contentType: string | undefined): PushPayload {
  let text = raw.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded') === true) text = new URLSearchParams(text).get('payload') ?? '';
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as PushPayload;
  } catch {
    throw new AppError('INVALID_JSON', 'The webhook body is not a JSON object.', { hint: 'Set the webhook content type to application/json.' });
  }
}

/** What a push means for a project: build this commit, or ignore it and say why. */
export function decidePush(p: PushPayload, productionBranch: string): { ignored: string } | { sha: string; before: string | undefined; branch: string; message: string | null; author: string | null } {
  if (typeof p.ref !== 'string') throw new AppError('VALIDATION', 'The push payload has no "ref".', { hint: 'Send GitHub push payloads unchanged.' });
  if (p.ref.startsWith('refs/tags/')) return { ignored: `tag push (${p.ref.slice('refs/tags/'.length)})` };
  if (!p.ref.startsWith('refs/heads/')) return { ignored: `ref ${p.ref} is not a branch` };
  const branch = p.ref.slice('refs/heads/'.length);
  if (p.deleted === true || p.after === '0000000000000000000000000000000000000000') return { ignored: `branch ${branch} was deleted` };
  if (typeof p.after !== 'string' || !SHA.test(p.after)) throw new AppError('VALIDATION', 'The push payload has no valid "after" commit sha.', { hint: 'Send GitHub push payloads unchanged.' });
  if (branch !== productionBranch) return { ignored: `branch ${branch} is not the production branch (${productionBranch}); previews are not enabled` };
  const head = p.head_commit ?? undefined;
  return {
    sha: p.after,
    before: typeof p.before === 'string' && SHA.test(p.before) && !/^0+$/.test(p.before) ? p.before : undefined,
    branch,
    message: typeof head?.message === 'string' ? head.message : null,
    author: typeof head?.author?.name === 'string' ? head.author.name : null,
  };
}
