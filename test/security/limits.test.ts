import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuild, type BuildRequest } from '../../src/build/index.js';
import { AppError } from '../../src/errors/index.js';
import { createWorkspace } from '../../src/sandbox/index.js';
import { sandboxSkipReason } from './sandbox-probe.js';

// A hostile build tries to take the machine's memory, process table and disk. Each attempt
// must stop at the build's own limit, fail the build with that limit named, and leave the
// platform (here: the test process and a second build) working.

let skip: string | undefined;
let root: string;
let n = 0;

before(async () => {
  skip = await sandboxSkipReason();
  root = await mkdtemp('/var/tmp/slipway-limits-');
});
after(() => rm(root, { recursive: true, force: true }));

/** A build of `files` whose build command is `command`; rejects as runBuild does. */
async function build(files: Record<string, string>, command: string, extra: Partial<BuildRequest> = {}): Promise<{ sourceDir: string; lines: string[] }> {
  const workDir = extra.scratchDir ?? join(root, `build-${++n}`);
  const sourceDir = join(workDir, 'src');
  await mkdir(sourceDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(sourceDir, name), text);
  const lines: string[] = [];
  await runBuild({
    sourceDir,
    settings: { buildCommand: command, outputDirectory: '.' },
    env: {},
    timeoutMs: 60_000,
    log: (l) => lines.push(l),
    cacheDir: join(root, 'cache'),
    hiddenPaths: [],
    scratchDir: workDir,
    ...extra,
  });
  return { sourceDir, lines };
}

function limitError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'BUILD_LIMIT', err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

/** Allocates 16 MiB a step (touched, so resident) up to MAX MiB, then exits 0. */
const HOG = `const held = []; const max = Number(process.argv[2]);
for (let mb = 0; mb < max; mb += 16) held.push(Buffer.alloc(16 * 1024 * 1024, 1));
console.log('allocated ' + max + ' MiB');`;

/** Spawns sleepers until a spawn fails (or 1,000 of them, or 10 s); holds them 1.5 s, then exits 1 if a spawn failed. */
const FORK_BOMB = `import { spawn } from 'node:child_process';
const [tag] = process.argv.slice(2); const started = Date.now(); let n = 0, failed = false;
while (n < 1000 && Date.now() - started < 10000) {
  const c = spawn('sleep', [tag], { stdio: 'ignore' });
  if (c.pid === undefined) { failed = true; c.on('error', () => {}); break; }
  c.on('error', () => {}); n++;
}
console.log((failed ? 'spawn failed after ' : 'spawned all ') + n);
setTimeout(() => process.exit(failed ? 1 : 0), 1500);`;

/** Writes 1 MiB chunks to a file until the write fails (or MAX MiB); prints how far it got and why it stopped. */
const FILLER = `import { openSync, writeSync } from 'node:fs';
const [path, max] = [process.argv[2], Number(process.argv[3])]; const chunk = Buffer.alloc(1024 * 1024, 7);
const fd = openSync(path, 'w'); let written = 0, why = 'max';
try { while (written < max * 1024 * 1024) written += writeSync(fd, chunk); } catch (e) { why = e.code; }
console.log(JSON.stringify({ written, why }));
process.exit(why === 'max' ? 0 : 1);`;

function processesWith(marker: string): Promise<number[]> {
  return readdir('/proc').then(async (names) => {
    const found: number[] = [];
    for (const name of names.filter((x) => /^\d+$/.test(x))) {
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(marker)) found.push(Number(name));
    }
    return found;
  });
}

describe("limits: memory, processes and disk stop at the build's own caps", () => {
  it('a build allocating past its memory limit fails with BUILD_LIMIT naming it', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await assert.rejects(build({ 'hog.js': HOG }, 'node hog.js 320', { limits: { memoryMb: 128 } }), limitError(/memory limit of 128 MiB/));
  });

  it('the same allocation succeeds without the sandbox (so the limit is what stopped it)', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const { lines } = await build({ 'hog.js': HOG }, 'node hog.js 320', { sandbox: false, limits: { memoryMb: 128 } });
    assert.ok(lines.includes('allocated 320 MiB'));
  });

  it('a fork bomb is contained by the pids limit; another build and the platform keep working; no sleeper survives', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const tag = `61.${randomInt(1e5, 1e6)}`;
    let hitLimit: () => void;
    const atLimit = new Promise<void>((resolve) => (hitLimit = resolve));
    const lines: string[] = [];
    const sourceDir = join(root, `bomb-${++n}`, 'src');
    await mkdir(sourceDir, { recursive: true });
    await writeFile(join(sourceDir, 'bomb.mjs'), FORK_BOMB);
    const bomb = runBuild({
      sourceDir,
      settings: { buildCommand: `node bomb.mjs ${tag}`, outputDirectory: '.' },
      env: {},
      timeoutMs: 60_000,
      log: (l) => {
        lines.push(l);
        if (l.startsWith('spawn failed') || l.startsWith('spawned all')) hitLimit();
      },
      cacheDir: join(root, 'cache'),
      hiddenPaths: [],
      limits: { pids: 64 },
    });
    const bombDone = bomb.then(
      () => undefined,
      (err: unknown) => err,
    );
    await Promise.race([atLimit, bombDone]);
    const held = (await processesWith(tag)).length;
    // while the bomb holds its children: another build runs, and this process can still spawn
    const { sourceDir: other } = await build({}, 'echo ok > ok.txt');
    assert.equal(await readFile(join(other, 'ok.txt'), 'utf8'), 'ok\n');
    const err = await bombDone;
    assert.ok(err instanceof AppError && err.code === 'BUILD_LIMIT', `the bomb's build: ${String(err)}\n${lines.join('\n')}`);
    assert.match(err.message, /limit of 64 processes and threads/);
    assert.ok(
      lines.some((l) => /^spawn failed after \d+$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(held > 0 && held < 64, `${held} sleepers while the bomb held them`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await processesWith(tag), [], 'no sleeper outlives the build');
  });

  it("a disk filler stops at the build folder's cap (ENOSPC), writes nothing outside, and the build fails naming the disk limit", async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const parent = join(root, 'disk');
    await mkdir(parent);
    const workDir = join(parent, 'b1-1');
    const capMb = 64;
    const workspace = await createWorkspace(workDir, capMb * 1024 * 1024, true);
    t.after(() => workspace.release());
    assert.equal(workspace.capped, true);
    const lines: string[] = [];
    await assert.rejects(build({ 'fill.mjs': FILLER }, 'node fill.mjs fill.bin 512', { scratchDir: workDir, diskLimitMb: capMb, log: (l) => lines.push(l) }), limitError(/disk limit of 64 MiB/));
    const report = lines.map((l) => /^\{"written".*\}$/.exec(l)?.[0]).find((l) => l !== undefined);
    const { written, why } = JSON.parse(report ?? '{}') as { written: number; why: string };
    assert.equal(why, 'ENOSPC');
    assert.ok(written > (capMb / 2) * 1024 * 1024 && written <= capMb * 1024 * 1024, `wrote ${written} bytes`);
    // on the host: the image holds at most the cap, and nothing else appeared beside it
    const image = await stat(`${workDir}.img`);
    assert.ok(image.blocks * 512 <= capMb * 1024 * 1024, `the image takes ${image.blocks * 512} bytes`);
    assert.deepEqual((await readdir(parent)).sort(), ['b1-1', 'b1-1.img']);
    // the platform keeps working: the next build in a fresh folder succeeds
    const { sourceDir } = await build({}, 'echo ok > ok.txt');
    assert.equal(await readFile(join(sourceDir, 'ok.txt'), 'utf8'), 'ok\n');
  });

  it('a /tmp filler stops at the tmpfs size, and so does /var/tmp', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const lines: string[] = [];
    await build({ 'fill.mjs': FILLER }, '(node fill.mjs /tmp/fill 256; node fill.mjs /var/tmp/fill 256) || true', { limits: { tmpMb: 16 }, log: (l) => lines.push(l) });
    const reports = lines.filter((l) => l.startsWith('{"written"')).map((l) => JSON.parse(l) as { written: number; why: string });
    assert.equal(reports.length, 2, lines.join('\n'));
    for (const { written, why } of reports) {
      assert.equal(why, 'ENOSPC');
      assert.ok(written >= 8 * 1024 * 1024 && written <= 16 * 1024 * 1024, `wrote ${written} bytes`);
    }
  });
});
