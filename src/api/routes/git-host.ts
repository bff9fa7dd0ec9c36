import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../errors/index.js';
import { deleteTeamGitHost, maskTeamGitHost, parseTeamGitHost, readTeamGitHosts, saveTeamGitHost } from '../../githost/index.js';
import { audit } from '../guard.js';
import { accountSchemas } from '../schemas/accounts.js';
import type { ApiDeps } from '../server.js';

type TeamParams = { Params: { team: string } };

/**
 * A team's own git host credentials (instead of the operator's SLIPWAY_GITHUB_* / SLIPWAY_GITLAB_*):
 * set by owners, stored encrypted, shown masked.
 */
export function gitHostRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, box } = deps;
  return async (app) => {
    // every member may see which credentials are set (masked); only owners change them
    app.get<TeamParams>('/teams/:team/git-host', { schema: accountSchemas.gitHosts, config: { access: { team: 'team', role: 'viewer' } } }, async (req) => ({
      gitHosts: (await readTeamGitHosts(store, box, req.grant.team!.id)).map(maskTeamGitHost),
    }));

    app.put<TeamParams>('/teams/:team/git-host', { schema: accountSchemas.setGitHost, config: { access: { team: 'team', role: 'owner' } } }, async (req) => {
      const host = parseTeamGitHost(req.body);
      const team = req.grant.team!;
      await store.tx(async (db) => {
        await saveTeamGitHost(db, box, team.id, host);
        await audit(db, req, team.id, { action: 'git-host.set', target: host.provider, details: { kind: host.token !== undefined ? 'token' : 'app', apiUrl: host.apiUrl } });
      });
      const saved = (await readTeamGitHosts(store, box, team.id)).find((h) => h.provider === host.provider)!;
      return maskTeamGitHost(saved);
    });

    app.delete<{ Params: { team: string; provider: string } }>(
      '/teams/:team/git-host/:provider',
      { schema: accountSchemas.removeGitHost, config: { access: { team: 'team', role: 'owner' } } },
      async (req, reply) => {
        const provider = req.params.provider;
        if (provider !== 'github' && provider !== 'gitlab')
          throw new AppError('VALIDATION', 'The provider is "github" or "gitlab".', { hint: 'For example: DELETE /api/v1/teams/<team>/git-host/github' });
        const team = req.grant.team!;
        const removed = await store.tx(async (db) => {
          const gone = await deleteTeamGitHost(db, team.id, provider);
          if (gone) await audit(db, req, team.id, { action: 'git-host.remove', target: provider, details: {} });
          return gone;
        });
        if (!removed) throw new AppError('NOT_FOUND', `Team "${team.slug}" has no ${provider} credentials of its own.`, { hint: 'List them with GET /api/v1/teams/<team>/git-host.' });
        return reply.code(204).send();
      },
    );
  };
}
