import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_UID } from '../../src/sandbox/root.js';
import { makeDataDir, makeRuntime, probeInBuild, probeInServer, sandboxSkipReason, type ProbeInput, type ProbeResult } from './sandbox-probe.js';

// A hostile build or server looks around the machine: the host's password hashes, the
// operator's home (.npmrc tokens, .gitconfig), the mount table, the platform's data dir (whose
// secret.key decrypts every project's variables), its own powers, and whether it can write
// to the host's system folders. All of it must come up empty in the sandbox.

const token = randomBytes(6).toString('hex');
const secret = `secret-${randomBytes(16).toString('hex')}`;
const SYSTEM = ['/', '/usr', '/etc', '/var', '/opt'];
let skip: string | undefined;
let data: Awaited<ReturnType<typeof makeDataDir>>;
let input: ProbeInput;

before(async () => {
  skip = await sandboxSkipReason();
  if (skip !== undefined) return;
  data = await makeDataDir(secret);
  input = {
    read: ['/etc/shadow', join(data.dataDir, 'secret.key'), join(data.dataDir, 'slipway.db')],
    list: ['/root', '/home', data.dataDir],
    write: SYSTEM.map((dir) => join(dir, `.slipway-probe-${token}`)),
  };
});
after(async () => {
  if (skip !== undefined) return;
  // a failed sandbox may have written them: leave nothing behind either way
  for (const dir of SYSTEM) await rm(join(dir, `.slipway-probe-${token}`), { force: true });
  await data.cleanup();
});

/** The host's own mount points that no sandbox binds (so seeing any of them means the host's table leaked). */
function hostOnlyMounts(allowed: (target: string) => boolean): string[] {
  const targets = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[1]!);
  return targets.filter((t) => !allowed(t));
}

/** Mount points a sandbox may have: the minimal root's pieces and the folders it was given. */
function allowedIn(bound: string[]): (target: string) => boolean {
  const nodeHome = dirname(dirname(process.execPath));
  const prefixes = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/proc', '/dev', '/tmp', '/var/tmp', ...(nodeHome === '/usr' ? [] : [nodeHome]), ...bound];
  return (t) => t === '/' || prefixes.some((p) => t === p || t.startsWith(`${p}/`));
}

function assertThin(r: ProbeResult, bound: string[], what: string): void {
  assert.notEqual(r.read['/etc/shadow'], 'read', `${what} read /etc/shadow`);
  for (const dir of ['/root', '/home']) {
    const seen = r.list[dir];
    assert.ok(!Array.isArray(seen) || seen.length === 0, `${what} sees the host's ${dir}: ${JSON.stringify(seen)}`);
  }
  assert.notEqual(r.read[join(data.dataDir, 'secret.key')], 'read', `${what} read the data dir's secret.key`);
  assert.notEqual(r.read[join(data.dataDir, 'slipway.db')], 'read', `${what} read the database`);
  const listing = r.list[data.dataDir];
  assert.ok(!Array.isArray(listing) || (!listing.includes('secret.key') && !listing.includes('slipway.db')), `${what} lists the data dir: ${JSON.stringify(listing)}`);
  assert.ok(!JSON.stringify(r).includes(secret), `the secret reached ${what}`);

  const allowed = allowedIn(bound);
  const leaked = r.mounts.filter((t) => !allowed(t));
  assert.deepEqual(leaked, [], `${what} sees host mount points`);
  assert.ok(hostOnlyMounts(allowed).length > 0, 'the host has mount points no sandbox binds (else the check above proves nothing)');

  assert.equal(r.uid, SANDBOX_UID, `${what} runs as uid ${r.uid}`);
  assert.match(r.status.Uid ?? '', new RegExp(`^${SANDBOX_UID}\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}$`));
  assert.equal(r.status.CapEff, '0000000000000000', `${what} has capabilities`);
  assert.equal(r.status.CapPrm, '0000000000000000');
  assert.equal(r.status.NoNewPrivs, '1');
  for (const [path, outcome] of Object.entries(r.write)) {
    assert.notEqual(outcome, 'written', `${what} wrote ${path}`);
    assert.equal(existsSync(path), false, `${path} exists on the host`);
  }
}

describe('a thin sandbox: what a build and a server can see of the host', () => {
  it('a build sees no shadow file, home folders, host mounts or data dir, runs as the sandbox uid with no capabilities, and cannot write the host root', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.ok(readdirSync('/root').length > 0 || readdirSync('/home').length > 0, 'the host has something in /root or /home to hide');
    const { result, workDir } = await probeInBuild(data.dataDir, input);
    assertThin(result, [workDir, join(data.dataDir, 'cache')], 'the build');
  });

  it('a server sees none of it either', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const rt = makeRuntime(data.dataDir);
    t.after(() => rt.runtime.close());
    const { result } = await probeInServer(rt, input);
    assertThin(result, [rt.dir, `${rt.dir}-data`], 'the server');
  });

  it('without the sandbox the same probes succeed (so the tests above can fail)', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // no writes here: unsandboxed, they would land in the host's /
    const looking = { read: input.read, list: input.list };
    const { result: build } = await probeInBuild(data.dataDir, looking, { sandbox: false });
    const rt = makeRuntime(data.dataDir, false);
    t.after(() => rt.runtime.close());
    const { result: server } = await probeInServer(rt, looking);
    for (const r of [build, server]) {
      assert.equal(r.read['/etc/shadow'], 'read');
      assert.equal(r.read[join(data.dataDir, 'secret.key')], 'read');
      assert.ok((r.list[data.dataDir] as string[]).includes('secret.key'));
      assert.equal(r.uid, 0);
      assert.notEqual(r.status.CapEff, '0000000000000000');
      assert.ok(
        r.mounts.some((m) => !allowedIn([])(m)),
        'the host mount table is visible',
      );
    }
  });
});
