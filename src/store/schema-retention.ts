/** A project's retention settings (migration 0021); no row: the defaults. */
export interface ProjectRetentionTable {
  project_id: string;
  keep_production: number | null;
  keep_days: number | null;
  updated_at: number;
}

/** The one 'gc' row: the collector's lease and the fence builds check before they go ready. */
export interface GcStateTable {
  id: string;
  lease_owner: string | null;
  lease_until: number | null;
  generation: number;
  sweeping: number;
  last_started_at: number | null;
  last_finished_at: number | null;
  last_report: string | null;
}
