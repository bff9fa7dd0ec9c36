import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src/errors/index.js';
import { parseNodeSpec, readNodeRequest, resolveNodeVersion, type NodeReleases, type NodeRequest } from '../../src/nodejs/index.js';
import { validateProjectPatch } from '../../src/projects/index.js';
import { tempDir } from '../helpers/paths.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const DAY = 24 * 60 * 60_000;

/** A registry as it looks on NOW: 26.0.0 is seven months old (LTS), 27 is one month old (Current). */
const releases: NodeReleases = (() => {
  const versions: [string, number][] = [
    ['0.12.18', 4000],
    ['16.20.2', 900],
    ['18.0.0', 1700],
    ['18.20.8', 600],
    ['20.0.0', 1300],
    ['20.18.3', 400],
    ['20.19.0', 300],
    ['20.19.5', 200],
    ['21.7.3', 700],
    ['22.0.0', 950],
    ['22.9.0', 500],
    ['22.12.0', 350],
    ['22.23.5', 20],
    ['23.11.1', 400],
    ['24.0.0', 580],
    ['24.11.1', 30],
    ['25.9.0', 100],
    ['26.0.0', 210],
    ['26.12.1', 10],
    ['27.0.0', 30],
    ['27.1.0', 5],
  ];
  // the registry lists versions in publication order, not semver order
  versions.reverse();
  return { versions: versions.map(([v]) => v), time: Object.fromEntries(versions.map(([v, days]) => [v, new Date(NOW - days * DAY).toISOString()])) };
})();

const asked = (spec: string, source = 'engines.node in package.json'): NodeRequest => ({ spec, source });
const resolve = (spec: string) => resolveNodeVersion(asked(spec), releases, NOW).version;

describe('resolving a Node.js request to a release', () => {
  it('takes the newest release inside a semver range', () => {
    assert.equal(resolve('22.x'), '22.23.5');
    assert.equal(resolve('v22'), '22.23.5');
    assert.equal(resolve('22'), '22.23.5');
    assert.equal(resolve('>=18 <23'), '22.23.5');
    assert.equal(resolve('^20.19'), '20.19.5');
    assert.equal(resolve('~20.18'), '20.18.3');
    assert.equal(resolve('22.9.0'), '22.9.0');
    assert.equal(resolve('^20.19.0 || >=22.12.0 <23'), '22.23.5');
    assert.equal(resolve('>=18'), '27.1.0');
    assert.equal(resolve('18 - 20'), '20.19.5');
  });

  it('reads nvm aliases: node and latest are the newest; lts/* the current LTS; lts/<codename> that line', () => {
    assert.equal(resolve('node'), '27.1.0');
    assert.equal(resolve('latest'), '27.1.0');
    assert.equal(resolve('lts/*'), '26.12.1');
    assert.equal(resolve('lts/-1'), '24.11.1');
    assert.equal(resolve('lts/iron'), '20.19.5');
    assert.equal(resolve('lts/Jod'), '22.23.5');
    assert.equal(resolve('lts/krypton'), '24.11.1');
    // a codename newer than this table goes by its letter (two majors per letter): l… is 26
    assert.equal(resolve('lts/lithium'), '26.12.1');
  });

  it('uses the current LTS when nothing is declared, not the node running Slipway', () => {
    const got = resolveNodeVersion(undefined, releases, NOW);
    assert.deepEqual(got, { version: '26.12.1', reason: 'no version declared: the current LTS, Node.js 26' });
    // five months earlier 26 was "Current" (first release two months old), and 24 was the LTS
    assert.equal(resolveNodeVersion(undefined, releases, NOW - 150 * DAY).version, '24.11.1');
    // without publication times: the newest even major that is not the newest line
    assert.equal(resolveNodeVersion(undefined, { versions: releases.versions, time: {} }, NOW).version, '24.11.1');
  });

  it('says where the request came from', () => {
    assert.equal(resolveNodeVersion(asked('>=22', 'engines.node in package.json'), releases, NOW).reason, 'engines.node in package.json: ">=22"');
    assert.equal(resolveNodeVersion(asked('lts/iron', '.nvmrc'), releases, NOW).reason, '.nvmrc: "lts/iron"');
  });

  it('fails an unmatched range with the majors that exist', () => {
    const check = (spec: string) =>
      assert.throws(
        () => resolve(spec),
        (err: unknown) => {
          assert.ok(err instanceof AppError);
          assert.equal(err.code, 'BUILD_FAILED');
          assert.match(err.message, new RegExp(`engines\\.node in package\\.json says "${spec.replace(/[.*^$]/g, '\\$&')}"`));
          assert.match(err.message, /Node\.js 0\.x, 16, 18, 20, 21, 22, 23, 24, 25, 26, 27 \(newest 27\.1\.0\)/);
          assert.match(err.hint ?? '', /22\.x/);
          return true;
        },
      );
    check('>=30');
    check('^19');
    check('lts/erbium');
  });

  it('fails what is no version at all, saying which forms work', () => {
    for (const spec of ['banana', 'iojs', 'lts/-9']) {
      assert.throws(
        () => resolveNodeVersion(asked(spec, '.nvmrc'), releases, NOW),
        (err: unknown) => err instanceof AppError && err.code === 'BUILD_FAILED' && err.message.includes(`.nvmrc says "${spec}"`),
      );
    }
    assert.equal(parseNodeSpec('banana'), undefined);
    assert.deepEqual(parseNodeSpec(' lts/* '), { kind: 'lts', back: 0 });
  });

  it('checks the project setting when it is set', () => {
    assert.deepEqual(validateProjectPatch({ nodeVersion: ' 22 ' }), { nodeVersion: '22' });
    assert.deepEqual(validateProjectPatch({ nodeVersion: null }), { nodeVersion: null });
    assert.throws(
      () => validateProjectPatch({ nodeVersion: 'twenty-two' }),
      (err: unknown) => err instanceof AppError && err.code === 'VALIDATION' && /nodeVersion "twenty-two"/.test(err.message) && /"nodeVersion": "22"/.test(err.hint ?? ''),
    );
  });
});

describe('reading the request from the checkout', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  before(async () => (tmp = await tempDir('slipway-node-request-')));
  after(() => tmp.cleanup());

  async function checkout(files: Record<string, string>): Promise<string> {
    const dir = join(tmp.path, `repo-${++n}`);
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await mkdir(dir, { recursive: true });
    return dir;
  }

  it('prefers the setting, then engines.node, then .nvmrc, then .node-version', async () => {
    const dir = await checkout({ 'package.json': '{"engines":{"node":">=20"}}', '.nvmrc': 'v22\n', '.node-version': '18\n' });
    assert.deepEqual(await readNodeRequest(dir, dir, '24'), { spec: '24', source: 'the project setting nodeVersion' });
    assert.deepEqual(await readNodeRequest(dir, dir, undefined), { spec: '>=20', source: 'engines.node in package.json' });
    const nvm = await checkout({ 'package.json': '{"name":"x"}', '.nvmrc': '# the team uses\n\n  lts/iron  # for now\n', '.node-version': '18\n' });
    assert.deepEqual(await readNodeRequest(nvm, nvm, undefined), { spec: 'lts/iron', source: '.nvmrc' });
    const plain = await checkout({ '.node-version': '22.11.0\n' });
    assert.deepEqual(await readNodeRequest(plain, plain, ''), { spec: '22.11.0', source: '.node-version' });
  });

  it('looks at the repository root after the project folder (monorepos)', async () => {
    const repo = await checkout({ '.nvmrc': '22\n', 'apps/web/package.json': '{"name":"web"}' });
    assert.deepEqual(await readNodeRequest(join(repo, 'apps/web'), repo, undefined), { spec: '22', source: '.nvmrc at the repository root' });
  });

  it('declares nothing without those files, and never follows a link out of the checkout', async () => {
    const outside = await checkout({ '.nvmrc': '16\n', 'package.json': '{"engines":{"node":"16"}}' });
    const dir = await checkout({ 'package.json': '{"engines":{}}' });
    assert.equal(await readNodeRequest(dir, dir, undefined), undefined);
    await symlink(join(outside, '.nvmrc'), join(dir, '.nvmrc'));
    await symlink(join(outside, 'package.json'), join(dir, '.node-version'));
    assert.equal(await readNodeRequest(dir, dir, undefined), undefined);
  });
});
