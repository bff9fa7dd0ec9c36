import type { Queue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';

/** Project "p1", which the queued deployments below belong to. */
export async function addProject(store: Store): Promise<void> {
  await store.db
    .insertInto('projects')
    .values({
      id: 'p1',
      name: 'p',
      repo_url: 'x',
      production_branch: 'main',
      root_directory: null,
      install_command: null,
      build_command: null,
      output_directory: null,
      build_timeout_seconds: null,
      webhook_secret: 'x',
      created_at: 0,
    })
    .execute();
}

let n = 0;
/** A queued deployment of p1 and its build job, committed together; the deployment's id. */
export async function enqueueBuild(store: Store, queue: Queue): Promise<string> {
  const id = `d${process.pid}-${++n}`;
  await store.tx(async (db) => {
    await db
      .insertInto('deployments')
      .values({
        id,
        project_id: 'p1',
        seq: n,
        status: 'queued',
        target: 'production',
        environment: 'production',
        trigger: 'api',
        branch: 'main',
        commit_sha: 'a'.repeat(40),
        commit_message: null,
        commit_author: null,
        manifest_hash: null,
        files_total: null,
        files_uploaded: null,
        bytes_uploaded: null,
        timings: null,
        build_info: null,
        error_code: null,
        error_phase: null,
        error_message: null,
        attempts: 0,
        created_at: Date.now(),
        started_at: null,
        finished_at: null,
      })
      .execute();
    await queue.enqueue(db, { kind: 'build', deploymentId: id });
  });
  return id;
}
