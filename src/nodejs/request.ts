import { readFileBeneath } from '../beneath/index.js';
import { validRange } from 'semver';

/** What a project asks for, in one of the forms nvm, engines.node and the project setting use. */
export type NodeSpec =
  /** a semver range: "22.x", ">=18 <23", "^20.19", "v22", "22.11.0" */
  | { kind: 'range'; range: string }
  /** "lts/*" (back 0), "lts/-1" (the LTS line before it) */
  | { kind: 'lts'; back: number }
  /** "lts/iron": one LTS line by its codename */
  | { kind: 'codename'; name: string; major: number }
  /** "node", "latest", "current", "stable": the newest release */
  | { kind: 'latest' };

/** The project's request and where it was found ("engines.node in package.json"). */
export interface NodeRequest {
  spec: string;
  source: string;
}

/** Node.js's LTS codenames; a later one is found by its first letter (the names go through the alphabet, two majors apart). */
const CODENAMES: Record<string, number> = { argon: 4, boron: 6, carbon: 8, dubnium: 10, erbium: 12, fermium: 14, gallium: 16, hydrogen: 18, iron: 20, jod: 22, krypton: 24 };

export const NODE_SPEC_EXAMPLES = '"22", "22.x", ">=20 <23", "^20.19", "lts/*", "lts/iron" or "node" (the newest)';

/**
 * Parse one request; undefined when it is none of the forms above (e.g. "banana", "iojs").
 * `parseNodeSpec('lts/jod')` → `{ kind: 'codename', name: 'jod', major: 22 }`
 */
export function parseNodeSpec(text: string): NodeSpec | undefined {
  const spec = text.trim().toLowerCase();
  if (spec === '' || spec.length > 200) return undefined;
  if (['node', 'latest', 'current', 'stable'].includes(spec)) return { kind: 'latest' };
  if (spec === 'lts' || spec === 'lts/*') return { kind: 'lts', back: 0 };
  const back = /^lts\/-(\d{1,2})$/.exec(spec);
  if (back !== null) return { kind: 'lts', back: Number(back[1]) };
  const name = /^lts\/([a-z]+)$/.exec(spec)?.[1];
  if (name !== undefined) return { kind: 'codename', name, major: CODENAMES[name] ?? 4 + 2 * (name.charCodeAt(0) - 'a'.charCodeAt(0)) };
  // semver reads "v22" and "=22.1.0" too; a bare word is no range
  const range = validRange(spec);
  return range === null ? undefined : { kind: 'range', range: spec };
}

/**
 * The Node.js version the project asks for: the project setting, else `engines.node` in
 * package.json, `.nvmrc` or `.node-version`, in the project's folder, then at the repository
 * root (a monorepo often keeps its .nvmrc there). Files are read without leaving the checkout.
 * Undefined when nothing declares one.
 */
export async function readNodeRequest(rootDir: string, repoRoot: string, setting: string | undefined): Promise<NodeRequest | undefined> {
  if (setting !== undefined && setting.trim() !== '') return { spec: setting.trim(), source: 'the project setting nodeVersion' };
  const dirs =
    rootDir === repoRoot
      ? [{ dir: rootDir, where: '' }]
      : [
          { dir: rootDir, where: '' },
          { dir: repoRoot, where: ' at the repository root' },
        ];
  for (const { dir, where } of dirs) {
    const engines = await enginesNode(dir);
    if (engines !== undefined) return { spec: engines, source: `engines.node in package.json${where}` };
    for (const file of ['.nvmrc', '.node-version']) {
      const text = (await readFileBeneath(dir, file).catch(() => undefined))?.toString('utf8');
      const line = text === undefined ? undefined : firstLine(text);
      if (line !== undefined) return { spec: line, source: `${file}${where}` };
    }
  }
  return undefined;
}

/** nvm reads the first line that is not empty, after a `#` comment is cut off */
function firstLine(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line !== '') return line;
  }
  return undefined;
}

async function enginesNode(dir: string): Promise<string | undefined> {
  const bytes = await readFileBeneath(dir, 'package.json').catch(() => undefined);
  if (bytes === undefined) return undefined;
  try {
    const pkg = JSON.parse(bytes.toString('utf8')) as { engines?: { node?: unknown } } | null;
    const node = pkg?.engines?.node;
    return typeof node === 'string' && node.trim() !== '' ? node.trim() : undefined;
  } catch {
    return undefined; // the install reports a broken package.json with its line number
  }
}
