import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runBuild } from '../../src/build/index.js';
import { tempDir } from '../helpers/paths.js';

// A registry on loopback that serves a tiny "pnpm" without the signatures corepack checks, as
// some mirrors do: corepack refuses the first fetch, and the build retries without the check.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: Server;
let registry: string;
let tarball: Buffer;
/** how many tarball requests succeed before the registry starts answering 500 */
let tarballsLeft = 0;

before(async () => {
  tmp = await tempDir();
  const pkg = join(tmp.path, 'pkg', 'package');
  await mkdir(join(pkg, 'bin'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'pnpm', version: '9.0.0', bin: { pnpm: 'bin/pnpm.cjs' } }));
  // a stand-in pnpm: prints its version, and "builds" for any other command
  await writeFile(
    join(pkg, 'bin', 'pnpm.cjs'),
    `const fs = require('node:fs');
if (process.argv[2] === '--version') console.log('9.0.0');
else { fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/index.html', 'built by the stand-in'); }
`,
  );
  await promisify(execFile)('tar', ['-czf', join(tmp.path, 'pnpm.tgz'), '-C', join(tmp.path, 'pkg'), 'package']);
  tarball = await readFile(join(tmp.path, 'pnpm.tgz'));
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  server = createServer((req, res) => {
    if (req.url?.endsWith('.tgz') === true) {
      if (tarballsLeft <= 0) {
        res.writeHead(500).end('broken');
        return;
      }
      tarballsLeft -= 1;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
      return;
    }
    const version = { name: 'pnpm', version: '9.0.0', bin: { pnpm: 'bin/pnpm.cjs' }, dist: { tarball: `${registry}/pnpm/-/pnpm-9.0.0.tgz`, integrity } };
    const body = req.url === '/pnpm' ? { name: 'pnpm', 'dist-tags': { latest: '9.0.0' }, versions: { '9.0.0': version } } : version;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await tmp.cleanup();
});

let n = 0;
async function attempt() {
  const dir = join(tmp.path, `src${(n += 1)}`);
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'retry', private: true, packageManager: 'pnpm@9.0.0', scripts: { build: 'pnpm build' } }));
  const lines: string[] = [];
  // the loopback registry is out of a sandbox's reach (own network namespace): run unsandboxed
  const run = runBuild({
    sourceDir: dir,
    settings: {},
    env: { COREPACK_NPM_REGISTRY: registry },
    timeoutMs: 60_000,
    log: (l) => lines.push(l),
    cacheDir: join(tmp.path, `cache${n}`),
    hiddenPaths: [],
    sandbox: false,
  });
  return { run, lines };
}

describe('corepack signature retry', () => {
  it('is one quiet line when the retry works: no stack trace in the log', async () => {
    tarballsLeft = 2;
    const { run, lines } = await attempt();
    const result = await run;
    const log = lines.join('\n');
    assert.equal(result.packageManagerVersion, '9.0.0');
    assert.ok(lines.includes("Fetched pnpm@9.0.0 without corepack's signature check: the registry serves it without signatures corepack knows"), log);
    assert.doesNotMatch(log, /No compatible signature|corepack\.cjs|^\s+at /m);
    assert.equal(await readFile(join(result.outputDir, 'index.html'), 'utf8'), 'built by the stand-in');
  });

  it('shows both attempts when the retry fails too', async () => {
    // corepack downloads before it checks: the first attempt gets the tarball, the retry a 500
    tarballsLeft = 1;
    const { run, lines } = await attempt();
    await assert.rejects(run, (err: Error) => /corepack pnpm@9\.0\.0 --version" exited with code 1/.test(err.message) && /HTTP 500/.test(err.message));
    const log = lines.join('\n');
    // the first attempt's refusal, kept back until now, and the retry's own failure
    assert.match(log, /corepack failed with the signature check:\n[\s\S]*No compatible signature found[\s\S]*\nand without it:\n[\s\S]*HTTP 500/);
  });
});
