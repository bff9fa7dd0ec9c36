import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { packageClosure, zipFolder } from '../../src/build/opennext/index.js';
import { unpackZip } from '../helpers/lambda-invoke.js';
import { tempDir } from '../helpers/paths.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-zip-');
});
after(() => tmp.cleanup());

/** a function folder: nested files, an executable, a link inside and one pointing out of it */
async function functionFolder(name: string, mtime: Date): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(join(dir, 'node_modules', 'pkg', 'bin'), { recursive: true });
  await writeFile(join(dir, 'index.mjs'), 'export const handler = async () => ({ statusCode: 200 });\n');
  await writeFile(join(dir, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
  await writeFile(join(dir, 'node_modules', 'pkg', 'bin', 'tool'), '#!/bin/sh\necho tool\n');
  await chmod(join(dir, 'node_modules', 'pkg', 'bin', 'tool'), 0o755);
  await mkdir(join(dir, 'node_modules', '.bin'));
  await symlink('../pkg/bin/tool', join(dir, 'node_modules', '.bin', 'tool'));
  await symlink('/etc/passwd', join(dir, 'outside'));
  for (const rel of ['index.mjs', 'node_modules/pkg/index.js', 'node_modules/pkg/bin/tool']) await utimes(join(dir, rel), mtime, mtime);
  return dir;
}

test('the same files give the same zip, whenever and wherever they were written', async () => {
  const a = await zipFolder(await functionFolder('a', new Date('2024-01-02T03:04:05Z')), join(tmp.path, 'a.zip'));
  const b = await zipFolder(await functionFolder('b', new Date('2026-06-07T08:09:10Z')), join(tmp.path, 'b.zip'));
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.bytes, (await stat(join(tmp.path, 'a.zip'))).size);
  assert.equal(a.files, 5);
  // a changed byte changes the zip
  const c = await functionFolder('c', new Date('2024-01-02T03:04:05Z'));
  await writeFile(join(c, 'index.mjs'), 'export const handler = async () => ({ statusCode: 201 });\n');
  assert.notEqual((await zipFolder(c, join(tmp.path, 'c.zip'))).sha256, a.sha256);
});

test('unpacked, the zip keeps executables and links, and a link out of the folder stays a link', async () => {
  const src = await functionFolder('d', new Date());
  await zipFolder(src, join(tmp.path, 'd.zip'));
  const out = join(tmp.path, 'd-out');
  await mkdir(out);
  assert.equal(await unpackZip(join(tmp.path, 'd.zip'), out), 5);
  assert.equal(await readFile(join(out, 'index.mjs'), 'utf8'), await readFile(join(src, 'index.mjs'), 'utf8'));
  assert.equal((await stat(join(out, 'node_modules', 'pkg', 'bin', 'tool'))).mode & 0o111, 0o111);
  assert.equal((await stat(join(out, 'index.mjs'))).mode & 0o111, 0);
  assert.equal(await readlink(join(out, 'node_modules', '.bin', 'tool')), '../pkg/bin/tool');
  // the host's file was never read into the zip: only the link's target text is there
  assert.equal(await readlink(join(out, 'outside')), '/etc/passwd');
});

test("OpenNext's package closure holds its dependencies and platform binaries, and nothing else of Slipway's", async () => {
  const require = createRequire(import.meta.url);
  const cli = require.resolve('@opennextjs/aws/index.js');
  const dirs = await packageClosure(dirname(dirname(cli)));
  const names = dirs.map((d) => d.slice(d.lastIndexOf(`${sep}node_modules${sep}`) + 14));
  for (const needed of ['@opennextjs/aws', 'esbuild', 'express', '@ast-grep/napi']) assert.ok(names.includes(needed), `${needed} in ${names.join(', ')}`);
  // esbuild's binary for this machine comes with it (an optional dependency)
  assert.ok(
    names.some((n) => n.startsWith('@esbuild/')),
    names.join(', '),
  );
  for (const unrelated of ['fastify', 'kysely', 'better-sqlite3', 'pg', 's3rver']) assert.ok(!names.includes(unrelated), unrelated);
  // no folder is listed inside another (each is bound once)
  for (const d of dirs) assert.ok(!dirs.some((o) => o !== d && d.startsWith(o + sep)), d);
});
