import { createContext } from './context.js';
import { FRAMEWORKS } from './table.js';
import type { FrameworkMatch } from './types.js';

export { FRAMEWORKS } from './table.js';
export type { DetectContext, FrameworkDefinition, FrameworkId, FrameworkMatch, ServerKind, ServerOutput, StaticMount } from './types.js';

/**
 * Which framework the project at `rootDir` uses and how to build and serve it: the first row
 * of FRAMEWORKS that matches. Reads package.json and config files as text, runs nothing.
 * Always returns a match; a folder of plain files is `static`.
 * `const fw = await detectFramework(dir); log(`Detected ${fw.name} (${fw.reason})`)`
 */
export async function detectFramework(rootDir: string): Promise<FrameworkMatch> {
  const ctx = await createContext(rootDir);
  for (const framework of FRAMEWORKS) {
    const match = await framework.detect(ctx);
    // the row's fingerprinted folders, unless this variant lays its files out otherwise
    if (match !== undefined) return { ...match, immutable: (match.immutable ?? framework.immutable).map((rule) => ({ ...rule })) };
  }
  throw new Error('unreachable: the static row matches every project');
}
