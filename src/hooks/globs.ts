/**
 * Glob patterns for branch names and repository paths: `*` matches within one `/`-separated
 * segment, `**` across segments, `?` one character. `feature/*` matches `feature/login`, not
 * `feature/a/b`; `release/**` matches both.
 */
export function globMatches(pattern: string, name: string): boolean {
  return globRegExp(pattern).test(name);
}

const cache = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re !== undefined) return re;
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` also matches no folder at all: `apps/**/x` matches `apps/x`
      if (pattern[i + 2] === '/') {
        src += '(?:.*/)?';
        i += 2;
      } else {
        src += '.*';
        i += 1;
      }
    } else if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  re = new RegExp(`^${src}$`);
  if (cache.size > 500) cache.clear();
  cache.set(pattern, re);
  return re;
}

/** A path setting matches a changed file: a glob as such, a plain path as the file or a folder holding it. */
export function pathMatches(setting: string, file: string): boolean {
  if (/[*?]/.test(setting)) return globMatches(setting, file);
  return file === setting || file.startsWith(`${setting}/`);
}
