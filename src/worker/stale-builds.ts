import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { alive, sweepWorkspaces } from '../sandbox/index.js';
import { databaseNow, type Store } from '../store/index.js';

/**
 * At worker start: remove `<buildsRoot>/<deployment>-<attempt>` folders (unmounted first, with
 * their disk images) of attempts that no longer run, e.g. of a Slipway killed mid-build. A folder
 * is kept while a running job of that deployment holds an unexpired lease for that very attempt,
 * unless the lease's worker is a process of this machine that is gone (its lease only has not
 * run out yet). The folders are listed before the database is asked: a folder made after the
 * listing is not touched, and one made before it belongs to a job claimed before it.
 */
export async function sweepStaleBuilds(store: Store, buildsRoot: string): Promise<number> {
  const listed = new Set((await readdir(buildsRoot).catch(() => [] as string[])).map((name) => name.replace(/\.img$/, '')));
  if (listed.size === 0) return 0;
  // leases run on the database's clock (see Queue)
  const now = await databaseNow(store);
  const running = await store.db.selectFrom('jobs').select(['deployment_id', 'locked_by', 'lease_until']).where('status', '=', 'running').execute();
  const live = new Set<string>();
  for (const job of running) {
    // locked_by is `<worker id>:<attempt>`, the worker id `<hostname>-<pid>-<6 hex>` (see startWorker)
    const lock = /^(.*)-(\d+)-[0-9a-f]{6}:(\d+)$/.exec(job.locked_by ?? '');
    if (lock === null || (job.lease_until ?? 0) < now) continue;
    if (lock[1] === hostname() && !alive(Number(lock[2]))) continue;
    live.add(`${job.deployment_id}-${lock[3]}`);
  }
  return sweepWorkspaces(buildsRoot, (name) => live.has(name) || !listed.has(name));
}
