import type { Db } from '../store/index.js';

/** The newest ready production deployments a project keeps, whatever their age (instant rollback targets). */
export const DEFAULT_KEEP_PRODUCTION = 10;
/** Anything newer than this stays; other deployments older than this are removed (the original design's 90 days). */
export const DEFAULT_KEEP_DAYS = 90;

export interface RetentionSettings {
  keepProduction: number;
  keepDays: number;
}

/** A project's retention settings, with the defaults where it set none. */
export async function retentionOf(db: Db, projectId: string): Promise<RetentionSettings & { custom: boolean }> {
  const row = await db.selectFrom('project_retention').selectAll().where('project_id', '=', projectId).executeTakeFirst();
  return {
    keepProduction: row?.keep_production ?? DEFAULT_KEEP_PRODUCTION,
    keepDays: row?.keep_days ?? DEFAULT_KEEP_DAYS,
    custom: row !== undefined && (row.keep_production !== null || row.keep_days !== null),
  };
}

/** Every project's settings at once (the collector plans all projects in one pass). */
export async function allRetention(db: Db): Promise<Map<string, RetentionSettings>> {
  const rows = await db.selectFrom('project_retention').selectAll().execute();
  return new Map(rows.map((r) => [r.project_id, { keepProduction: r.keep_production ?? DEFAULT_KEEP_PRODUCTION, keepDays: r.keep_days ?? DEFAULT_KEEP_DAYS }]));
}

/** Change some settings; `null` goes back to the default. */
export async function setRetention(db: Db, projectId: string, change: { keepProduction?: number | null; keepDays?: number | null }): Promise<void> {
  const now = Date.now();
  const existing = await db.selectFrom('project_retention').selectAll().where('project_id', '=', projectId).executeTakeFirst();
  const row = {
    keep_production: change.keepProduction === undefined ? (existing?.keep_production ?? null) : change.keepProduction,
    keep_days: change.keepDays === undefined ? (existing?.keep_days ?? null) : change.keepDays,
    updated_at: now,
  };
  if (existing === undefined)
    await db
      .insertInto('project_retention')
      .values({ project_id: projectId, ...row })
      .execute();
  else await db.updateTable('project_retention').set(row).where('project_id', '=', projectId).execute();
}
