import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
      text = readFile(join(rootDir, file), 'utf8').catch(() => undefined);
      files.set(file, text);
    }
    return text;
  };
  const isFile = new Map<string, Promise<boolean>>();
  const exists = (file: string): Promise<boolean> => {
    let answer = isFile.get(file);
    if (answer === undefined) {
      answer = stat(join(rootDir, file)).then((s) => s.isFile(), () => false);
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
