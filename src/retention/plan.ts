import { bumpCounter, type Db, type Store } from '../store/index.js';
import { allRetention, DEFAULT_KEEP_DAYS, DEFAULT_KEEP_PRODUCTION } from './settings.js';

const DAY_MS = 24 * 60 * 60_000;

/** statuses whose deployment is still on its way or waits for a person: never removed */
const IN_FLIGHT = ['queued', 'building', 'deploying', 'awaiting-approval'] as const;

/** A deployment retention takes (or, in a dry run, would take). */
export interface RemovedDeployment {
  id: string;
  project: string;
  environment: string;
  status: string;
  createdAt: number;
}

/**
 * The deployments retention removes now, per project: everything except what an alias or
 * environment points at, what is being built or awaits approval, the newest `keepProduction`
 * ready production deployments, and anything newer than `keepDays`.
 */
export async function planRemovals(db: Db, now: number): Promise<RemovedDeployment[]> {
  const settings = await allRetention(db);
  const aliased = new Set((await db.selectFrom('aliases').select('deployment_id').execute()).map((a) => a.deployment_id));
  const rows = await db
    .selectFrom('deployments')
    .innerJoin('projects', 'projects.id', 'deployments.project_id')
    .select(['deployments.id', 'deployments.project_id', 'projects.name as project', 'deployments.environment', 'deployments.status', 'deployments.created_at', 'deployments.seq'])
    .where('deployments.status', '!=', 'removed')
    .orderBy('deployments.seq', 'desc')
    .execute();
  const productionSeen = new Map<string, number>();
  const removals: RemovedDeployment[] = [];
  for (const d of rows) {
    const own = settings.get(d.project_id);
    const keepProduction = own?.keepProduction ?? DEFAULT_KEEP_PRODUCTION;
    const keepDays = own?.keepDays ?? DEFAULT_KEEP_DAYS;
    if (d.environment === 'production' && d.status === 'ready') {
      // newest first: the first keepProduction of them stay whatever their age
      const seen = (productionSeen.get(d.project_id) ?? 0) + 1;
      productionSeen.set(d.project_id, seen);
      if (seen <= keepProduction) continue;
    }
    if (aliased.has(d.id) || (IN_FLIGHT as readonly string[]).includes(d.status)) continue;
    if (Number(d.created_at) > now - keepDays * DAY_MS) continue;
    removals.push({ id: d.id, project: d.project, environment: d.environment, status: d.status, createdAt: Number(d.created_at) });
  }
  return removals;
}

/**
 * Mark the deployments removed: no manifest, no variables, no log lines. The row stays, so its
 * URL answers "deployment removed" and its history (who deployed what, when) is kept. Each
 * row is re-checked in the same transaction: one that took an alias or started building since
 * the plan stays. Returns the ids actually removed.
 */
export async function removeDeployments(store: Store, planned: readonly RemovedDeployment[]): Promise<string[]> {
  const removed: string[] = [];
  for (let i = 0; i < planned.length; i += 100) {
    const batch = planned.slice(i, i + 100).map((d) => d.id);
    const ids = await store.tx(async (db) => {
      const aliased = new Set((await db.selectFrom('aliases').select('deployment_id').where('deployment_id', 'in', batch).execute()).map((a) => a.deployment_id));
      const candidates = batch.filter((id) => !aliased.has(id));
      if (candidates.length === 0) return [];
      const rows = await db
        .selectFrom('deployments')
        .select('id')
        .where('id', 'in', candidates)
        .where('status', 'not in', [...IN_FLIGHT, 'removed'])
        .execute();
      const ids = rows.map((r) => r.id);
      if (ids.length === 0) return [];
      await db.updateTable('deployments').set({ status: 'removed', manifest_hash: null, env: null }).where('id', 'in', ids).execute();
      await db.deleteFrom('log_lines').where('deployment_id', 'in', ids).execute();
      // edges drop their cached routes and sites, so a removed deployment's URL stops serving at once
      await bumpCounter(db, 'alias_generation');
      return ids;
    });
    removed.push(...ids);
  }
  return removed;
}
