import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { aliasTarget, branchAlias, branchSlug, createDeployment, getDeployment, movePreviewAliases, prAlias, removePreviewAlias, reviveAlias } from '../../src/deployments/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { SecretBox } from '../../src/secrets.js';
import { readCounter, Store, type Project } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

test('branch slugs: plain names stay, anything else gets a hash of the exact name, every host is a DNS label', () => {
  assert.equal(branchSlug('main', 'site'), 'main');
  assert.equal(branchSlug('fix-42', 'site'), 'fix-42');
  assert.match(branchSlug('feature/Über-Login', 'site'), /^feature-uber-login-[0-9a-f]{6}$/);
  assert.match(branchSlug('Main', 'site'), /^main-[0-9a-f]{6}$/);
  assert.notEqual(branchSlug('a/b', 'site'), branchSlug('a-b', 'site'));
  assert.equal(branchSlug('a-b', 'site'), 'a-b');
  // a branch may not take a pull request's host, nor look like a hashed slug of another branch
  assert.match(branchSlug('pr-7', 'site'), /^pr-7-[0-9a-f]{6}$/);
  assert.match(branchSlug('dk3v9x0q2m7a', 'site'), /^dk3v9x0q2m7a-[0-9a-f]{6}$/, 'nor a deployment id, which the edge looks up first');
  const hashed = branchSlug('x/y', 'site');
  assert.notEqual(branchSlug(hashed, 'site'), hashed);
  assert.match(branchSlug('日本語', 'site'), /^branch-[0-9a-f]{6}$/);

  const long = 'a'.repeat(300);
  const longer = `${'a'.repeat(299)}b`;
  for (const project of ['s', 'site', 'p'.repeat(40)]) {
    const slug = branchSlug(long, project);
    assert.ok(`${slug}--${project}`.length <= 63, `${slug}--${project} fits a DNS label`);
    assert.match(slug, /-[0-9a-f]{6}$/);
    assert.notEqual(branchSlug(longer, project), slug, 'names cut to the same text still differ');
  }

  const names = ['feature/x', 'feature-x', 'Feature-X', 'feature_x', 'feature.x', 'feature--x', '-feature-x-', 'feature/x/', 'ñ', 'n', 'über', 'uber', 'release/2024.10', 'release-2024-10'];
  const slugs = names.map((n) => branchSlug(n, 'site'));
  assert.equal(new Set(slugs).size, names.length, `all different: ${slugs.join(' ')}`);
  for (const s of slugs) assert.match(`${s}--site`, DNS_LABEL);
  for (let i = 0; i < 200; i++) {
    const name = randomBytes(1 + (i % 90)).toString('latin1');
    assert.match(`${branchSlug(name, 'site')}--site`, DNS_LABEL, JSON.stringify(name));
  }
});

// Preview aliases against a real SQLite store and the edge's own lookup.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let store: Store;
let box: SecretBox;
let queue: Queue;
let project: Project;

before(async () => {
  tmp = await tempDir('slipway-previews-');
  store = await Store.openSqlite(join(tmp.path, 'slipway.db'));
  box = new SecretBox(randomBytes(32));
  queue = new Queue(store, { leaseMs: 30_000 });
  project = (await store.tx((db) => createProject(db, box, { name: 'site', repoUrl: 'file:///nowhere' }))).project;
});

after(async () => {
  await store?.close();
  await tmp?.cleanup();
});

async function built(branch: string | null, prNumber: number | null = null, headRepo: string | null = null) {
  const d = await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch, trigger: 'webhook', target: 'preview', prNumber, headRepo }));
  await store.db
    .updateTable('deployments')
    .set({ status: 'ready', manifest_hash: randomBytes(32).toString('hex') })
    .where('id', '=', d.id)
    .execute();
  return getDeployment(store.db, d.id);
}

const finish = (d: Awaited<ReturnType<typeof built>>) => store.tx((db) => movePreviewAliases(db, project.name, d));

test('the edge finds `a/b` and `a-b` at their own hosts, and pr-<n> at its pull request', async () => {
  const lookup = createStoreLookup(store, 'localhost');
  const slash = await built('a/b');
  const dash = await built('a-b');
  const pr = await built('feature/pr', 12);
  for (const d of [slash, dash, pr]) await finish(d);
  assert.equal((await lookup.resolveHost(`${branchSlug('a/b', 'site')}--site.localhost`))?.deploymentId, slash.id);
  assert.equal((await lookup.resolveHost('a-b--site.localhost'))?.deploymentId, dash.id);
  assert.equal((await lookup.resolveHost('pr-12--site.localhost'))?.deploymentId, pr.id);
  assert.equal((await lookup.resolveHost(`${branchSlug('feature/pr', 'site')}--site.localhost`))?.deploymentId, pr.id, 'the head branch follows too');
  assert.equal(await lookup.resolveHost('pr-13--site.localhost'), undefined);
  assert.equal(await lookup.resolveHost('pr-012--site.localhost'), undefined);
  // a fork's branch name is not one of ours: only the pull request's alias moves
  const fork = await built('main', 14, 'mallory/site');
  assert.deepEqual(await finish(fork), [prAlias(14)]);
});

test('removing a preview alias: the edge stops routing it, a build still running does not bring it back, a new push does', async () => {
  const lookup = createStoreLookup(store, 'localhost');
  const old = await built('gone', 20);
  await finish(old);
  const inFlight = await store.tx((db) => createDeployment(db, queue, box, { project, sha: 'c'.repeat(40), branch: 'gone', trigger: 'webhook', target: 'preview', prNumber: 20 }));
  const generation = await readCounter(store.db, 'alias_generation');
  assert.equal(await store.tx((db) => removePreviewAlias(db, project.id, prAlias(20))), true);
  assert.ok((await readCounter(store.db, 'alias_generation')) > generation, 'the edges are told');
  assert.equal(await lookup.resolveHost('pr-20--site.localhost'), undefined);
  assert.equal(await aliasTarget(store.db, project.id, branchAlias('gone')), old.id, 'nothing else changes');
  assert.equal((await getDeployment(store.db, old.id)).status, 'ready', 'the deployment stays, at its own URL');
  assert.equal((await lookup.resolveHost(`${old.id}--site.localhost`))?.deploymentId, old.id);
  assert.equal(await store.tx((db) => removePreviewAlias(db, project.id, prAlias(20))), false);

  // the build that was under way finishes after the close
  await store.db
    .updateTable('deployments')
    .set({ status: 'ready', manifest_hash: 'e'.repeat(64) })
    .where('id', '=', inFlight.id)
    .execute();
  assert.deepEqual(await finish(await getDeployment(store.db, inFlight.id)), [branchAlias('gone')]);
  assert.equal(await aliasTarget(store.db, project.id, prAlias(20)), null);

  // reopened: the next build takes it again
  await store.tx((db) => reviveAlias(db, project.id, prAlias(20)));
  const reopened = await built('gone', 20);
  assert.ok((await finish(reopened)).includes(prAlias(20)));
  assert.equal((await lookup.resolveHost('pr-20--site.localhost'))?.deploymentId, reopened.id);
});
