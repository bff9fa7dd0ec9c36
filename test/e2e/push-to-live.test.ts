import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fixturesDir, repoRoot, tempDir } from '../helpers/paths.js';
import { freshPostgres, postgresSkip } from '../helpers/postgres.js';
import { startS3rver, useS3rverCredentials, type RunningS3 } from '../helpers/s3rver.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, TOKEN, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

const run = promisify(execFile);

// The whole path as a user lives it: a real bare repository, `slipway up` as a real process
// (edge in its default multi-process mode), GitHub-signed webhooks, a real npm build, the edge
// over a socket. It runs twice: on the embedded backends (SQLite + the blobs folder) and on
// PostgreSQL + an S3 bucket (a real PostgreSQL and s3rver the test starts), where the edge
// processes read every blob from the bucket through their local blob cache.
interface Backends {
  name: string;
  skip: string | false;
  /** the flags that select the backends (started on first use, the same ones after) */
  flags(): Promise<string[]>;
  env: Record<string, string>;
  /** which folders of the data dir hold blobs, and how many objects the bucket has */
  blobsAt(dataDir: string): Promise<{ folder: number; cache: number; bucket: number }>;
  cleanup(): Promise<void>;
}

/** regular files below `dir` (0 when it does not exist) */
async function filesBelow(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

const embedded: Backends = {
  name: 'SQLite + blobs folder',
  skip: false,
  flags: async () => [],
  env: {},
  blobsAt: async (data) => ({ folder: await filesBelow(join(data, 'blobs')), cache: await filesBelow(join(data, 'blob-cache')), bucket: 0 }),
  cleanup: async () => {},
};

function scaleOut(): Backends {
  let s3: RunningS3 | undefined;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let started: Promise<string[]> | undefined;
  return {
    name: 'PostgreSQL + S3',
    skip: postgresSkip,
    flags() {
      started ??= (async () => {
        useS3rverCredentials();
        s3 = await startS3rver();
        db = await freshPostgres();
        return ['--database-url', db.url, '--blob-url', `s3://${s3.bucket}/e2e?endpoint=${s3.endpoint}&forcePathStyle=1`, '--blob-cache-mb', '64'];
      })();
      return started;
    },
    // the AWS chain reads these in the slipway process
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    // s3rver keeps each object as a file (plus its metadata) under <directory>/<bucket>/<key>
    blobsAt: async (data) => ({
      folder: await filesBelow(join(data, 'blobs')),
      cache: await filesBelow(join(data, 'blob-cache')),
      bucket: (await readdir(join(s3?.directory ?? '/nonexistent', s3?.bucket ?? '', 'e2e'), { recursive: true }).catch(() => [])).filter((f) => /[0-9a-f]{64}\._S3rver_object$/.test(f)).length,
    }),
    async cleanup() {
      await db?.drop();
      await s3?.cleanup();
    },
  };
}

for (const backend of [embedded, scaleOut()]) {
  describe(backend.name, { skip: backend.skip }, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let repo: Awaited<ReturnType<typeof makeRepo>>;
    let slipway: RunningSlipway;
    let secret: string;
    const host = 'site.localhost';

    before(async () => {
      dir = await tempDir();
      repo = await makeRepo(join(dir.path, 'repo'));
      slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '2', ...(await backend.flags())], backend.env);
      const created = await slipway.api('POST', '/api/v1/projects', { name: 'site', repoUrl: repo.url });
      assert.equal(created.status, 201);
      secret = created.body.webhookSecret;
      assert.match(secret, /^[0-9a-f]{64}$/);
      assert.equal(created.body.webhookUrl, `${'http://localhost:'}${new URL(slipway.apiUrl).port}/hooks/github/site`);
    });

    after(async () => {
      await slipway?.stop();
      await dir?.cleanup();
      await backend.cleanup();
    });

    async function pushAndDeploy(files: Record<string, string> | 'fixture', message: string): Promise<{ sha: string; deploymentId: string }> {
      const sha = files === 'fixture' ? await repo.commitFixture(join(fixturesDir, 'static-site'), message) : await repo.commit(files, message);
      await repo.push();
      const res = await sendWebhook(slipway.apiUrl, 'site', secret, pushPayload({ ref: 'refs/heads/main', after: sha, message }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.match(res.body.deploymentId, /^d[a-z0-9]{11}$/);
      return { sha, deploymentId: res.body.deploymentId };
    }

    let first: { sha: string; deploymentId: string };
    let second: { sha: string; deploymentId: string };

    test('a push to the production branch becomes the live site', async () => {
      first = await pushAndDeploy('fixture', 'first version');
      const d = await waitForStatus(slipway, first.deploymentId, ['ready', 'failed']);
      assert.equal(d.status, 'ready', JSON.stringify(d.error));
      assert.equal(d.commit.sha, first.sha);
      assert.equal(d.commit.message, 'first version');
      assert.equal(d.isProduction, true);
      assert.equal(d.stats.filesTotal, 4);
      assert.equal(d.stats.filesUploaded, 4);
      for (const phase of ['fetchMs', 'installMs', 'buildMs', 'packageMs', 'totalMs']) assert.equal(typeof d.timings[phase], 'number', phase);
      assert.equal(d.build.framework.id, 'static');
      assert.equal(d.build.packageManager, 'npm');
      // which version ran, and why, is part of the deployment
      assert.match(String(d.build.packageManagerVersion), /^\d+\.\d+\.\d+$/);
      assert.match(String(d.build.packageManagerReason), /^npm \d+\.\d+\.\d+ from package-lock\.json$/);
      assert.equal(d.build.cache.dependencies, 'miss');

      const page = await waitFor(
        'the edge to serve v1',
        async () => {
          const r = await edgeGet(slipway.edgePort, host, '/');
          return r.status === 200 ? r : undefined;
        },
        5000,
      );
      assert.match(page.text, /Hello from version v1/);
      assert.equal(page.headers['x-slipway-deployment'], first.deploymentId);
      const about = await edgeGet(slipway.edgePort, host, '/about');
      assert.match(about.text, /About/);
      const missing = await edgeGet(slipway.edgePort, host, '/no-such-page');
      assert.equal(missing.status, 404);
      assert.match(missing.text, /Custom not found/);

      const logs = await slipway.api('GET', `/api/v1/deployments/${first.deploymentId}/logs?after=0`);
      assert.equal(logs.body.finished, true);
      assert.ok(
        logs.body.lines.some((l: { text: string }) => l.text.includes('built version v1')),
        'the build output is in the log',
      );
      const later = await slipway.api('GET', `/api/v1/deployments/${first.deploymentId}/logs?after=${logs.body.next}`);
      assert.deepEqual(later.body.lines, []);
      const sse = await fetch(`${slipway.apiUrl}/api/v1/deployments/${first.deploymentId}/logs`, { headers: { authorization: 'Bearer test-admin-token-0123456789', accept: 'text/event-stream' } });
      assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const stream = await sse.text();
      assert.match(stream, /event: line\ndata: \{"n":\d+,"at":\d+,"text":"built version v1"\}/);
      assert.match(stream, /event: end\ndata: \{"status":"ready"\}/, 'the stream ends with the build');
    });

    test('a second push uploads only the changed file; the old deployment URL keeps the old content', async () => {
      second = await pushAndDeploy({ 'version.txt': 'v2\n' }, 'second version');
      const d = await waitForStatus(slipway, second.deploymentId, ['ready', 'failed']);
      assert.equal(d.status, 'ready', JSON.stringify(d.error));
      // version.txt is not in the output; the stamped index.html is the only output file that changed
      assert.equal(d.stats.filesUploaded, 1);
      assert.equal(d.build.cache.dependencies, 'hit', 'an unchanged lockfile restores the installed tree');
      const live = await waitFor(
        'production to serve v2',
        async () => {
          const r = await edgeGet(slipway.edgePort, host, '/');
          return r.text.includes('version v2') ? r : undefined;
        },
        5000,
      );
      assert.equal(live.headers['x-slipway-deployment'], second.deploymentId);
      const old = await edgeGet(slipway.edgePort, `${first.deploymentId}--site.localhost`, '/');
      assert.match(old.text, /Hello from version v1/);

      const list = await slipway.api('GET', '/api/v1/projects/site/deployments');
      assert.deepEqual(
        list.body.deployments.map((x: { id: string }) => x.id),
        [second.deploymentId, first.deploymentId],
        'newest first',
      );
    });

    test('rollback moves production back without a rebuild, and promote moves it forward', async () => {
      const rb = await slipway.api('POST', '/api/v1/projects/site/rollback');
      assert.equal(rb.status, 200);
      assert.equal(rb.body.id, first.deploymentId);
      await waitFor('production to serve v1 again', async () => ((await edgeGet(slipway.edgePort, host, '/')).text.includes('version v1') ? true : undefined), 2000, 10);
      const pr = await slipway.api('POST', `/api/v1/deployments/${second.deploymentId}/promote`);
      assert.equal(pr.status, 200);
      await waitFor('production to serve v2 again', async () => ((await edgeGet(slipway.edgePort, host, '/')).text.includes('version v2') ? true : undefined), 2000, 10);
      const list = await slipway.api('GET', '/api/v1/projects/site/deployments');
      assert.equal(list.body.deployments.length, 2, 'no deployment was rebuilt');
      await slipway.api('POST', '/api/v1/projects/site/rollback', { deploymentId: first.deploymentId });
    });

    test('a failing build leaves production on the last good deployment and says why', async () => {
      const broken = await pushAndDeploy({ 'version.txt': 'broken\n' }, 'break the build');
      const d = await waitForStatus(slipway, broken.deploymentId, ['ready', 'failed']);
      assert.equal(d.status, 'failed');
      assert.equal(d.error.code, 'BUILD_FAILED');
      assert.match(d.error.message, /refusing to build/, 'the reason carries the tail of the log');
      assert.equal(d.attempts, 1, 'a user build failure is not retried');
      const live = await edgeGet(slipway.edgePort, host, '/');
      assert.match(live.text, /Hello from version v1/);
      assert.equal(live.headers['x-slipway-deployment'], first.deploymentId);
    });

    test('a manual deploy through the API builds the branch head', async () => {
      await writeFile(join(repo.work, 'version.txt'), 'v3\n');
      const sha = await repo.commit({ 'version.txt': 'v3\n' }, 'third version');
      await repo.push();
      const res = await slipway.api('POST', '/api/v1/projects/site/deployments', {});
      assert.equal(res.status, 202);
      assert.equal(res.body.commit.sha, sha);
      const d = await waitForStatus(slipway, res.body.id, ['ready', 'failed']);
      assert.equal(d.status, 'ready');
      await waitFor('production to serve v3', async () => ((await edgeGet(slipway.edgePort, host, '/')).text.includes('version v3') ? true : undefined), 5000);
      const unknown = await slipway.api('POST', '/api/v1/projects/site/deployments', { ref: 'no-such-branch' });
      assert.equal(unknown.status, 422);
      assert.equal(unknown.body.error.code, 'REF_NOT_FOUND');
    });

    test('the CLI deploys, lists and rolls back like the API', async () => {
      await repo.commit({ 'version.txt': 'v4\n' }, 'fourth version');
      await repo.push();
      const cli = (...args: string[]) =>
        run(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), ...args, '--url', slipway.apiUrl, '--token', TOKEN], { env: { ...process.env, SLIPWAY_TOKEN: '' } });
      const deployed = await cli('deploy', '--project', 'site');
      assert.match(deployed.stdout, /built version v4/, 'the build log streams to the terminal');
      assert.match(deployed.stderr, /Ready: http:\/\/d[a-z0-9]{11}--site\.localhost:\d+ \(production\)/);
      await waitFor('production to serve v4', async () => ((await edgeGet(slipway.edgePort, host, '/')).text.includes('version v4') ? true : undefined), 5000);
      const listed = await cli('deployments', '--project', 'site');
      assert.match(listed.stdout.split('\n')[0]!, /ready \(production\).*fourth version/);
      const rolled = await cli('rollback', '--project', 'site');
      assert.match(rolled.stdout, /Rolled back: production of site now serves d[a-z0-9]{11}/);
      await assert.rejects(cli('deploy', '--project', 'nope'), (err: { stderr: string }) => /Error: No project named "nope"/.test(err.stderr) && /Hint:/.test(err.stderr));
    });

    // on one machine there is no other machine's edge to start
    if (backend !== embedded)
      test('an edge on another machine (its own empty data dir) serves the site from the bucket', async () => {
        const edgeDir = join(dir.path, 'edge-machine');
        // the same database, bucket and platform key (copied, as docs/scale-out.md says), nothing else in common
        const keyFile = join(edgeDir, 'copied-secret.key');
        await mkdir(edgeDir, { recursive: true });
        await copyFile(join(dir.path, 'data', 'secret.key'), keyFile);
        const edge = await startSlipwayProcess(edgeDir, ['--roles', 'edge', '--edge-workers', '1', '--secret-key-file', keyFile, ...(await backend.flags())], backend.env);
        try {
          const there = await edgeGet(slipway.edgePort, host, '/');
          const page = await waitFor(
            'the new edge to serve production',
            async () => {
              const r = await edgeGet(edge.edgePort, host, '/');
              return r.status === 200 ? r : undefined;
            },
            5000,
          );
          assert.equal(page.text, there.text);
          assert.equal(page.headers['x-slipway-deployment'], there.headers['x-slipway-deployment']);
          const at = await backend.blobsAt(edgeDir);
          assert.equal(at.folder, 0, 'no blobs folder on the edge machine');
          assert.ok(at.cache > 0, 'its blob cache filled on demand');
        } finally {
          await edge.stop();
        }
      });

    test('the blobs are where the backend keeps them', async () => {
      const at = await backend.blobsAt(join(dir.path, 'data'));
      if (backend === embedded) {
        assert.ok(at.folder > 0, 'the blobs folder holds the artifacts');
        assert.equal(at.cache, 0, 'no cache layer without a bucket');
      } else {
        assert.equal(at.folder, 0, 'nothing in the blobs folder: the bucket holds the artifacts');
        assert.ok(at.bucket > 0, 'the bucket holds the artifacts');
        assert.ok(at.cache > 0 && at.cache <= at.bucket, `the local blob cache holds copies (${at.cache} of ${at.bucket})`);
      }
    });
  });
}
