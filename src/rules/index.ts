/**
 * Site rules: each site's own redirects, rewrites and headers, from `vercel.json` or Netlify's
 * `_redirects` / `_headers`. Read and compiled into the manifest at deploy time (readSiteRules),
 * compiled for requests once per deployment at the edge (compileRules), matched per request.
 */
export { readSiteRules, NETLIFY_RULE_FILES, type ReadRulesOptions } from './read.js';
export { vercelRules } from './vercel.js';
export { parseHeaders, parseRedirects } from './netlify.js';
export {
  compileRules,
  encodeHeaderValue,
  encodeUrlValue,
  matchConditions,
  matchPath,
  matchRule,
  substitute,
  type CompiledRule,
  type CompiledRules,
  type RuleMatch,
  type RuleRequest,
} from './match.js';
export { RuleError } from './types.js';
