import { readFileBeneath, resolveBeneath } from '../beneath/index.js';
import { stripComments } from './config-text.js';
import type { ConfigFile, DetectContext } from './types.js';

/** The extensions a framework's config file may have, in the order they are tried. */
const CONFIG_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;

/**
 * The shared, cached view of a project that every detector reads. Only files are read; no
 * user code runs.
 */
export async function createContext(rootDir: string): Promise<DetectContext> {
  const files = new Map<string, Promise<string | undefined>>();
  const read = (file: string): Promise<string | undefined> => {
    let text = files.get(file);
    if (text === undefined) {
      // the checkout is hostile: a config file that links out of it reads as absent
      text = readFileBeneath(rootDir, file).then(
        (b) => b?.toString('utf8'),
        () => undefined,
      );
      files.set(file, text);
    }
    return text;
  };
  const isFile = new Map<string, Promise<boolean>>();
  const exists = (file: string): Promise<boolean> => {
    let answer = isFile.get(file);
    if (answer === undefined) {
      answer = resolveBeneath(rootDir, file, { follow: true }).then(
        (r) => r.kind === 'file',
        () => false,
      );
      isFile.set(file, answer);
    }
    return answer;
  };

  const pkg = parseObject(await read('package.json'));
  const deps = new Map<string, string>();
  for (const field of ['devDependencies', 'dependencies'] as const) {
    for (const [name, range] of Object.entries(asRecord(pkg?.[field]))) deps.set(name, typeof range === 'string' ? range : '');
  }
  const scripts = asRecord(pkg?.scripts);

  return {
    rootDir,
    pkg,
    deps,
    has: (name) => deps.has(name),
    script: (name) => {
      const value = scripts[name];
      return typeof value === 'string' && value.trim() !== '' ? value : undefined;
    },
    exists,
    read,
    config: async (base): Promise<ConfigFile | undefined> => {
      for (const ext of CONFIG_EXTENSIONS) {
        const text = await read(base + ext);
        if (text !== undefined) return { file: base + ext, text: stripComments(text) };
      }
      return undefined;
    },
  };
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    // a broken package.json is npm's to report, with a line number; detection treats it as absent
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
