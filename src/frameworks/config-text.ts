/**
 * Heuristics over the *text* of a framework config file (next.config.mjs, astro.config.ts ...).
 * Slipway never executes user code to detect a framework, so these read literal values only:
 * `output: 'export'` is seen, `output: process.env.X ?? 'export'` or a value spread in from
 * another module is not, and the framework's default applies. The user can always override
 * the build and output settings per project.
 */

/** Remove block and line comments so that `// output: 'export'` is not taken for a setting. */
export function stripComments(text: string): string {
  return (
    text
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      // a line comment starts at the line's start or after whitespace or punctuation, not inside "https://"
      .replace(/(^|[\s;,{}()[\]])\/\/.*$/gm, '$1')
  );
}

/**
 * The literal string value of the first `key: 'value'` (or "value", `value`, "key": "value")
 * in the text, or undefined. `stringOption("output: 'export'", 'output')` -> 'export'.
 */
export function stringOption(text: string, key: string): string | undefined {
  const match = new RegExp(`(?:^|[\\s,{(])["']?${escapeRegExp(key)}["']?\\s*:\\s*(["'\`])([^"'\`\\n]*)\\1`).exec(text);
  return match?.[2];
}

/** The literal boolean value of the first `key: true|false` in the text, or undefined. */
export function booleanOption(text: string, key: string): boolean | undefined {
  const match = new RegExp(`(?:^|[\\s,{(])["']?${escapeRegExp(key)}["']?\\s*:\\s*(true|false)\\b`).exec(text);
  return match === null ? undefined : match[1] === 'true';
}

/** True when the text imports or requires `moduleName` (`from '@astrojs/node'`, `require("@astrojs/node")`). */
export function importsModule(text: string, moduleName: string): boolean {
  return new RegExp(`(?:from\\s*|import\\s*\\(?\\s*|require\\s*\\(\\s*)["']${escapeRegExp(moduleName)}["']`).test(text);
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
