import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * The file `slipway link` writes in a folder. Not under `.slipway/`: that is the default data
 * dir of `slipway up`, and a project folder may well hold both.
 */
export const LINK_FILE = '.slipway-project.json';

export interface ProjectLink {
  project: string;
  /** the API it was linked against, so a link made for one server is not used for another */
  url: string;
  /** the file it was read from */
  file: string;
}

/** The link of `dir` or of the nearest folder above it that has one. */
export function findLink(dir = process.cwd()): ProjectLink | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const file = join(at, LINK_FILE);
    try {
      const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<ProjectLink>;
      if (typeof value.project === 'string' && typeof value.url === 'string') return { project: value.project, url: value.url, file };
    } catch {
      // none here (or unreadable): look further up
    }
    if (dirname(at) === at) return undefined;
  }
}

export async function writeLink(dir: string, project: string, url: string): Promise<string> {
  const file = join(resolve(dir), LINK_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ project, url }, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}
