import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../errors/index.js';
import { getProject } from '../../projects/index.js';
import { collectGarbage, DEFAULT_KEEP_DAYS, DEFAULT_KEEP_PRODUCTION, retentionOf, setRetention } from '../../retention/index.js';
import type { Project } from '../../store/index.js';
import { audit } from '../guard.js';
import { retentionSchemas } from '../schemas/retention.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };

const LIMITS = { keepProduction: 10_000, keepDays: 36_500 } as const;

/**
 * Retention: a project's settings (a viewer reads, an owner changes them), and the garbage
 * collection itself, which only the installation admin runs by hand (it spans every project).
 */
export function retentionRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { store, blobs, config, box } = deps;
  const show = async (project: Project) => {
    const r = await retentionOf(store.db, project.id);
    return { project: project.name, keepProduction: r.keepProduction, keepDays: r.keepDays, defaults: { keepProduction: DEFAULT_KEEP_PRODUCTION, keepDays: DEFAULT_KEEP_DAYS } };
  };
  return async (app) => {
    app.get<ProjectParams>('/projects/:project/retention', { schema: retentionSchemas.show, config: { access: { project: 'project', role: 'viewer' } } }, async (req) =>
      show(await getProject(store.db, req.params.project)),
    );

    app.patch<ProjectParams>('/projects/:project/retention', { schema: retentionSchemas.update, config: { access: { project: 'project', role: 'owner' } } }, async (req) => {
      const body = objectBody(req.body);
      const change: { keepProduction?: number | null; keepDays?: number | null } = {};
      for (const [field, value] of Object.entries(body)) {
        if (field !== 'keepProduction' && field !== 'keepDays')
          throw new AppError('VALIDATION', `Unknown field "${field}".`, { hint: 'Send {"keepProduction": 20, "keepDays": 30} (either may be null: the default).' });
        if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > LIMITS[field])) {
          throw new AppError('VALIDATION', `${field} must be a whole number from 0 to ${LIMITS[field]}, or null for the default.`, {
            hint: `For example: {"${field}": ${field === 'keepDays' ? 30 : 20}}`,
          });
        }
        change[field] = value as number | null;
      }
      const project = await store.tx(async (db) => {
        const project = await getProject(db, req.params.project);
        await setRetention(db, project.id, change);
        await audit(db, req, project.team_id, { action: 'retention.update', target: project.name, details: change });
        return project;
      });
      return show(project);
    });

    app.post('/gc', { schema: retentionSchemas.collect, config: { access: { caller: 'admin' } } }, async (req) => {
      const body = objectBody(req.body);
      if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw new AppError('VALIDATION', 'dryRun must be true or false.', { hint: 'For example: {"dryRun": true}' });
      const report = await collectGarbage({ store, blobs, dataDir: config.dataDir, aws: { box, endpoints: config.awsEndpoints } }, { dryRun: body.dryRun === true });
      if (!report.ran) throw new AppError('GC_RUNNING', 'Another garbage collection is running now.', { hint: 'Wait for it to finish (GET /api/v1/gc shows it), then run this again.' });
      return report;
    });

    app.get('/gc', { schema: retentionSchemas.last, config: { access: { caller: 'admin' } } }, async () => {
      const row = await store.db.selectFrom('gc_state').selectAll().where('id', '=', 'gc').executeTakeFirstOrThrow();
      return {
        running: row.lease_until !== null && Number(row.lease_until) > Date.now(),
        lastStartedAt: row.last_started_at === null ? null : Number(row.last_started_at),
        lastFinishedAt: row.last_finished_at === null ? null : Number(row.last_finished_at),
        lastReport: row.last_report === null ? null : JSON.parse(row.last_report),
      };
    });
  };
}
