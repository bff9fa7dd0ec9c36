import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageServer } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { locateOutput, resolveBin } from '../../src/build/output.js';
import { AppError } from '../../src/errors/index.js';
import { detectFramework } from '../../src/frameworks/index.js';
import { tempDir } from '../helpers/paths.js';

// React Router and Remix start their servers with a tool from node_modules/.bin; the runtime
// runs `node <entry> ...args`, so the build resolves the tool to its script inside the bundle.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;

before(async () => {
  tmp = await tempDir('slipway-bin-');
});
after(() => tmp.cleanup());

/** a fresh folder with files (path -> content) and symlinks (path -> target) */
async function tree(files: Record<string, string>, links: Record<string, string> = {}): Promise<string> {
  const root = join(tmp.path, `p${counter++}`);
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(links)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
  return root;
}

const BIN = 'node_modules/.bin/react-router-serve';
const SCRIPT = '#!/usr/bin/env node\nrequire("./dist/cli");\n';

/** the shell script pnpm writes into node_modules/.bin (its layout, shortened NODE_PATH) */
function pnpmShim(script: string): string {
  return [
    '#!/bin/sh',
    'basedir=$(dirname "$(echo "$0" | sed -e \'s,\\\\,/,g\')")',
    '',
    'if [ -z "$NODE_PATH" ]; then',
    '  export NODE_PATH="/somewhere/node_modules/.pnpm/node_modules"',
    'fi',
    'if [ -x "$basedir/node" ]; then',
    `  exec "$basedir/node"  "$basedir/${script}" "$@"`,
    'else',
    `  exec node  "$basedir/${script}" "$@"`,
    'fi',
    '',
  ].join('\n');
}

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<AppError> {
  const err = await promise.then(
    () => assert.fail('expected the bin to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, 'OUTPUT_NOT_FOUND');
  assert.match(err.message, pattern);
  return err;
}

describe('resolveBin', () => {
  it("follows npm's .bin symlink to the package's script", async () => {
    const root = await tree({ 'node_modules/@react-router/serve/bin.js': SCRIPT }, { [BIN]: '../@react-router/serve/bin.js' });
    assert.equal(await resolveBin(root, BIN), 'node_modules/@react-router/serve/bin.js');
  });

  it('follows links through folders (pnpm puts packages in node_modules/.pnpm) and absolute links that stay inside', async () => {
    const store = 'node_modules/.pnpm/@react-router+serve@7.18.4/node_modules/@react-router/serve';
    const root = await tree({ [`${store}/bin.js`]: SCRIPT }, { 'node_modules/@react-router/serve': '../.pnpm/@react-router+serve@7.18.4/node_modules/@react-router/serve' });
    await mkdir(join(root, 'node_modules/.bin'));
    await symlink(join(root, 'node_modules/@react-router/serve/bin.js'), join(root, BIN));
    assert.equal(await resolveBin(root, BIN), `${store}/bin.js`);
  });

  it("reads the script out of pnpm's shell shim", async () => {
    const store = 'node_modules/.pnpm/@react-router+serve@7.18.4/node_modules/@react-router/serve';
    const root = await tree(
      { [`${store}/bin.js`]: SCRIPT, [BIN]: pnpmShim('../@react-router/serve/bin.js') },
      { 'node_modules/@react-router/serve': '../.pnpm/@react-router+serve@7.18.4/node_modules/@react-router/serve' },
    );
    assert.equal(await resolveBin(root, BIN), `${store}/bin.js`);
  });

  it('a .bin entry that is itself the script is run as it is', async () => {
    const root = await tree({ [BIN]: SCRIPT });
    assert.equal(await resolveBin(root, BIN), BIN);
  });

  it('a missing tool names the package to add', async () => {
    const root = await tree({ 'build/server/index.js': 'export {};\n' });
    const err = await refused(resolveBin(root, BIN, '@react-router/serve'), /react-router-serve.*not installed/);
    assert.match(err.hint ?? '', /@react-router\/serve.*"dependencies"/);
  });

  it('a dangling .bin link counts as missing', async () => {
    const root = await tree({}, { [BIN]: '../@react-router/serve/bin.js' });
    await refused(resolveBin(root, BIN, '@react-router/serve'), /not installed/);
  });

  it('refuses a .bin symlink that points outside the bundle, relative or absolute', async () => {
    const outside = await tree({ 'bin.js': SCRIPT });
    const relativeOut = await tree({}, { [BIN]: `../../../${outside.split('/').pop()}/bin.js` });
    await refused(resolveBin(relativeOut, BIN), /points outside the project/);
    const absoluteOut = await tree({}, { [BIN]: join(outside, 'bin.js') });
    await refused(resolveBin(absoluteOut, BIN), /points outside the project/);
    // a package folder linked in from elsewhere (npm link) leaves the bundle too
    const linkedPackage = await tree({}, { 'node_modules/@react-router/serve': outside, [BIN]: '../@react-router/serve/bin.js' });
    await refused(resolveBin(linkedPackage, BIN), /points outside the project/);
  });

  it('refuses a pnpm shim whose script lies outside the bundle', async () => {
    const outside = await tree({ 'bin.js': SCRIPT });
    const root = await tree({ [BIN]: pnpmShim(`../../../${outside.split('/').pop()}/bin.js`) });
    await refused(resolveBin(root, BIN), /points outside the project/);
  });
});

describe('a React Router server build', () => {
  const project = (links: Record<string, string>) =>
    tree(
      {
        'package.json': JSON.stringify({ type: 'module', dependencies: { '@react-router/serve': '7', react: '19' }, devDependencies: { '@react-router/dev': '7' } }),
        'react-router.config.ts': 'export default { ssr: true };\n',
        'build/server/index.js': 'export const routes = {};\n',
        'build/client/assets/entry-Ab3dE9fG.js': 'console.log(1);\n',
        'node_modules/@react-router/serve/bin.js': SCRIPT,
        'node_modules/@react-router/serve/package.json': '{"name":"@react-router/serve"}',
      },
      links,
    );

  it("runs react-router-serve's script with the server build as its argument, and the bundle records both", async () => {
    const root = await project({ [BIN]: '../@react-router/serve/bin.js' });
    const framework = await detectFramework(root);
    const lines: string[] = [];
    const out = await locateOutput(root, framework, undefined, (l) => lines.push(l));
    assert.equal(out.server?.bundleDir, root);
    assert.equal(out.server?.entry, 'node_modules/@react-router/serve/bin.js');
    assert.deepEqual(out.server?.args, ['build/server/index.js']);
    assert.ok(
      lines.some((l) => l.includes('node node_modules/@react-router/serve/bin.js build/server/index.js (node_modules/.bin/react-router-serve)')),
      lines.join('\n'),
    );

    const blobs = new LocalBlobStore(join(tmp.path, `blobs${counter++}`));
    const { bundle } = await packageServer({ bundleDir: out.server!.bundleDir, entry: out.server!.entry, args: out.server!.args, blobs, log: () => {} });
    assert.equal(bundle.entry, 'node_modules/@react-router/serve/bin.js');
    assert.deepEqual(bundle.args, ['build/server/index.js']);
    assert.ok('build/server/index.js' in bundle.files);
    assert.equal(bundle.symlinks?.[BIN], '../@react-router/serve/bin.js');
  });

  it('fails with the package to add when @react-router/serve is not installed', async () => {
    const root = await tree({ 'package.json': JSON.stringify({ devDependencies: { '@react-router/dev': '7' } }), 'build/server/index.js': 'export {};\n' });
    const framework = await detectFramework(root);
    const err = await refused(
      locateOutput(root, framework, undefined, () => {}),
      /react-router-serve/,
    );
    assert.match(err.hint ?? '', /@react-router\/serve/);
  });

  it('a server started with node keeps its entry and gets no arguments', async () => {
    const root = await tree({ 'package.json': JSON.stringify({ dependencies: { '@sveltejs/kit': '2', '@sveltejs/adapter-node': '5' } }), 'build/index.js': 'export {};\n' });
    const out = await locateOutput(root, await detectFramework(root), undefined, () => {});
    assert.equal(out.server?.entry, 'build/index.js');
    assert.deepEqual(out.server?.args, []);
  });
});

describe('a SvelteKit server build', () => {
  it('serves its client files and its prerendered pages from one tree at /, the first folder winning a clash', async () => {
    const root = await tree({
      'package.json': JSON.stringify({ dependencies: { '@sveltejs/kit': '2', '@sveltejs/adapter-node': '5' } }),
      'build/index.js': 'export {};\n',
      'build/client/favicon.svg': '<svg/>',
      'build/client/_app/immutable/entry/start.Bx1c9aQe.js': 'export {};\n',
      'build/client/robots.txt': 'client\n',
      'build/prerendered/about.html': '<h1>About</h1>',
      'build/prerendered/about/__data.json': '{}',
      'build/prerendered/robots.txt': 'prerendered\n',
    });
    const lines: string[] = [];
    const out = await locateOutput(root, await detectFramework(root), undefined, (l) => lines.push(l));
    const read = (path: string) => readFile(join(out.outputDir, path), 'utf8');
    assert.equal(await read('favicon.svg'), '<svg/>');
    assert.equal(await read('_app/immutable/entry/start.Bx1c9aQe.js'), 'export {};\n');
    assert.equal(await read('about.html'), '<h1>About</h1>');
    assert.equal(await read('about/__data.json'), '{}');
    assert.equal(await read('robots.txt'), 'client\n');
    assert.ok(
      lines.some((l) => /build\/prerendered and another static folder both have robots\.txt/.test(l)),
      lines.join('\n'),
    );
  });
});
