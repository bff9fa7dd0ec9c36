import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../errors/index.js';
import { handleDelivery, readGiteaDelivery, readGithubDelivery, readGitlabDelivery, type Delivery, type Headers } from '../../hooks/index.js';
import { findProject } from '../../projects/index.js';
import { systemSchemas } from '../schemas/resources.js';
import type { ApiDeps } from '../server.js';

const HOOK_BODY_LIMIT = 5 * 1024 * 1024;

const PROVIDERS: Record<'github' | 'gitlab' | 'gitea', (headers: Headers, raw: Buffer, secret: string) => Delivery> = {
  github: readGithubDelivery,
  gitlab: readGitlabDelivery,
  gitea: readGiteaDelivery,
};

/**
 * Git host webhooks: POST /hooks/github/<project>, /hooks/gitlab/<project>, /hooks/gitea/<project>.
 * Each provider's module (src/hooks) checks the signature or token over the raw bytes before
 * anything is parsed or recorded.
 */
export function hookRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    // Keep the raw bytes: the HMAC is over them, not over a re-serialisation.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HOOK_BODY_LIMIT }, (_req, body: Buffer, done) => done(null, body));

    for (const [provider, read] of Object.entries(PROVIDERS)) {
      // public: the signature (or token) of the delivery is this route's own check
      app.post<{ Params: { project: string } }>(
        `/${provider}/:project`,
        { schema: systemSchemas[provider as keyof typeof PROVIDERS], bodyLimit: HOOK_BODY_LIMIT, config: { access: { public: true } } },
        async (req, reply) => {
          const project = await findProject(deps.store.db, req.params.project);
          if (project === undefined) throw new AppError('PROJECT_NOT_FOUND', `No project named "${req.params.project}".`, { hint: 'Check the webhook URL; it ends with the project name.' });
          const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const delivery = read(req.headers, raw, deps.box.decrypt(project.webhook_secret));
          const answer = await handleDelivery(deps, project, delivery);
          return reply.code(answer.status).send(answer.body);
        },
      );
    }
  };
}
