import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';

export interface KeyInput {
  packageManager: string;
  /** the project's root directory (absolute) and its path inside the repository ("" for the root) */
  rootDir: string;
  rootRel: string;
  lockfile: string;
  /** the user's installCommand, when set: another command may install another tree */
  installCommand: string | undefined;
  /** the project's variables; those that steer an install (NODE_ENV, npm_config_*...) go into the key */
  env: Record<string, string>;
  /** anything else the worker wants in the key (e.g. a "clear cache" generation) */
  salt: string | undefined;
  /** a workspace's packages and their dependency fields (see workspace.ts), when rootDir is a workspace root */
  workspace?: string | undefined;
  /** the Node.js the install runs on ("22.23.5"; default: the one running Slipway): native addons are built for its major */
  nodeVersion?: string | undefined;
}

/** package.json fields that decide what gets installed; scripts and the rest do not */
export const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'overrides',
  'resolutions',
  'pnpm',
  'workspaces',
  'packageManager',
  'engines',
];

/** config files next to the lockfile that change how an install resolves or lays out packages */
const CONFIG_FILES = ['.npmrc', '.yarnrc', '.yarnrc.yml', '.pnpmfile.cjs', 'pnpm-workspace.yaml'];

/** variables of the project's environment that change what an install produces */
const INSTALL_ENV = /^(NODE_ENV$|npm_config_|NPM_CONFIG_|YARN_|PNPM_|COREPACK_)/;

/**
 * The dependency key: sha256 over everything that decides what `node_modules` an install
 * produces (package manager, lockfile bytes, package.json's dependency fields, install config
 * files, patches/, install-related variables, Node's major version, platform and arch, the
 * root directory and a custom install command). Same key: the same tree can be reused.
 * `await dependencyKey({ packageManager: 'npm', rootDir, rootRel: '', lockfile: 'package-lock.json', ... })`
 */
export async function dependencyKey(input: KeyInput): Promise<string> {
  const hash = createHash('sha256');
  const part = (name: string, value: string | Buffer) => {
    hash.update(`${name}\0${Buffer.byteLength(value)}\0`);
    hash.update(value);
  };
  part('format', '1');
  part('packageManager', input.packageManager);
  part('node', (input.nodeVersion ?? process.versions.node).split('.')[0] ?? '');
  part('platform', `${process.platform}-${process.arch}`);
  part('rootDirectory', input.rootRel);
  part('lockfile', input.lockfile);
  // the checkout's files, read without following a link out of the root directory
  const lockfile = await readFileBeneath(input.rootDir, input.lockfile);
  if (lockfile === undefined) throw new Error(`${input.lockfile} is not a file inside the root directory`);
  part('lockfileBytes', lockfile);
  const pkg = await readFileBeneath(input.rootDir, 'package.json').then(
    (bytes) => JSON.parse(bytes?.toString('utf8') ?? '{}') as Record<string, unknown>,
    () => ({}) as Record<string, unknown>,
  );
  part('package.json', JSON.stringify(DEPENDENCY_FIELDS.map((field) => [field, pkg[field] ?? null])));
  for (const file of CONFIG_FILES) {
    const bytes = await readFileBeneath(input.rootDir, file).catch(() => undefined);
    if (bytes !== undefined) part(`file:${file}`, bytes);
  }
  const patches = await resolveBeneath(input.rootDir, 'patches', { follow: false });
  if (patches.kind === 'dir') for (const [path, bytes] of await readFolder(patches.path, 'patches')) part(`file:${path}`, bytes);
  part('installCommand', input.installCommand ?? '');
  part(
    'env',
    JSON.stringify(
      Object.entries(input.env)
        .filter(([name]) => INSTALL_ENV.test(name))
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
  );
  part('salt', input.salt ?? '');
  if (input.workspace !== undefined) part('workspace', input.workspace);
  return hash.digest('hex');
}

/** every file under `dir` (patch-package and pnpm patches), sorted by path, links not followed; none when absent */
async function readFolder(dir: string, rel: string): Promise<[string, Buffer][]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: [string, Buffer][] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await readFolder(path, `${rel}/${entry.name}`)));
    else if (entry.isFile()) out.push([`${rel}/${entry.name}`, await readFile(path)]);
  }
  return out;
}
