import { posix } from 'node:path';
import { readFileBeneath } from '../beneath/index.js';
import { AppError } from '../errors/index.js';
import type { SiteRules } from '../manifest/index.js';
import { parseHeaders, parseRedirects } from './netlify.js';
import { RuleError } from './types.js';
import { vercelRules } from './vercel.js';

/** Files larger than this are refused rather than parsed (a rules file is text a person writes). */
const MAX_FILE_BYTES = 1024 * 1024;

/** The Netlify files in the output folder that configure the edge and are not served. */
export const NETLIFY_RULE_FILES = ['_redirects', '_headers'] as const;

export interface ReadRulesOptions {
  /** the checkout (trusted folder; everything below it is the repository's and hostile) */
  checkout: string;
  /** the project's rootDirectory inside the checkout ("" for the repository root) */
  rootDirectory: string;
  /** the build's output folder, a real folder (see walkOutput) */
  outputDir: string;
  log: (line: string) => void;
}

/**
 * Read, check and compile the site's rules at deploy time: `vercel.json` at the root directory,
 * `_redirects` and `_headers` in the output. Undefined when there are none. Paths are resolved
 * one component at a time (readFileBeneath): a symlink that leads out of the checkout or the
 * output reads as no file. A bad rule throws AppError SITE_RULES naming the file and the line
 * or rule index.
 */
export async function readSiteRules(opts: ReadRulesOptions): Promise<SiteRules | undefined> {
  try {
    const vercelPath = posix.join(opts.rootDirectory.replace(/\\/g, '/') || '.', 'vercel.json');
    const vercelText = await readText(opts.checkout, vercelPath, 'vercel.json');
    const vercel = vercelText === undefined ? undefined : vercelRules(vercelText);
    const redirectsText = await readText(opts.outputDir, '_redirects', '_redirects');
    const headersText = await readText(opts.outputDir, '_headers', '_headers');
    const netlify = [...(redirectsText === undefined ? [] : parseRedirects(redirectsText)), ...(headersText === undefined ? [] : parseHeaders(headersText))];
    if (vercel !== undefined && netlify.length > 0) {
      throw new RuleError('the site has rules in both vercel.json and _redirects/_headers; keep one kind (their orders differ)');
    }
    if (vercel !== undefined) {
      opts.log(`Site rules: ${vercel.routes.length} from vercel.json`);
      return vercel;
    }
    if (netlify.length === 0) return undefined;
    opts.log(`Site rules: ${netlify.length} from ${[redirectsText && '_redirects', headersText && '_headers'].filter(Boolean).join(' and ')}`);
    return { platform: 'netlify', routes: netlify };
  } catch (err) {
    if (err instanceof RuleError) throw new AppError('SITE_RULES', `Bad site rule: ${err.message}`, { cause: err });
    throw err;
  }
}

async function readText(root: string, rel: string, label: string): Promise<string | undefined> {
  const bytes = await readFileBeneath(root, rel);
  if (bytes === undefined) return undefined;
  if (bytes.length > MAX_FILE_BYTES) throw new RuleError(`${label} is ${bytes.length} bytes; at most ${MAX_FILE_BYTES} are read`);
  // a BOM is what some editors put first; it is not part of the first rule
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}
