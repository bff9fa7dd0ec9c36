import type { Db } from '../store/index.js';
import type { Metrics } from './registry.js';

const FINAL = new Set(['ready', 'failed', 'canceled']);

/**
 * After a job ran: count the build by the status it ended in and observe how long it took
 * (started_at to finished_at). A job that ended without a final status (released at shutdown,
 * lease lost) is not counted: another attempt will be.
 */
export async function observeBuild(metrics: Metrics, db: Db, deploymentId: string): Promise<void> {
  const d = await db.selectFrom('deployments').select(['status', 'started_at', 'finished_at']).where('id', '=', deploymentId).executeTakeFirst();
  if (d === undefined || !FINAL.has(d.status)) return;
  metrics.builds.inc({ outcome: d.status });
  if (d.started_at !== null && d.finished_at !== null) metrics.buildDuration.observe({ outcome: d.status }, Math.max(0, Number(d.finished_at) - Number(d.started_at)) / 1000);
}
