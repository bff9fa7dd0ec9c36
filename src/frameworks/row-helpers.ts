import type { ImmutableRule } from '../manifest/index.js';
import { stringOption } from './config-text.js';
import type { ConfigFile, DetectContext, FrameworkDefinition, FrameworkMatch, ServerKind, StaticMount } from './types.js';

/** Vite/Rollup's `assets/` folder: build output whose names carry a hash (public/ files copied beside them do not) */
export const VITE_ASSETS: ImmutableRule = { prefix: 'assets/', names: 'hashed' };

/**
 * A row that is all data: the project is this framework when it has one of the dependencies
 * (and, when `configFiles` is given and `needsConfig` is set, one of those files too). The
 * evidence names what was found. `refine` may adjust the match from the config (an outDir).
 */
export function row(
  def: Omit<FrameworkDefinition, 'detect'> & { needsConfig?: boolean; variant?: string; ignoreBuildScript?: boolean },
  refine?: (ctx: DetectContext, match: FrameworkMatch, config: ConfigFile | undefined) => Promise<FrameworkMatch> | FrameworkMatch,
): FrameworkDefinition {
  const { needsConfig, variant, ignoreBuildScript, ...data } = def;
  return {
    ...data,
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      const dep = data.detectors.dependencies.find((name) => ctx.has(name));
      let config: ConfigFile | undefined;
      for (const file of data.detectors.configFiles ?? []) {
        const found = /\.(js|mjs|cjs|ts|mts|cts)$/.test(file) ? await ctx.config(file.replace(/\.[^.]+$/, '')) : (await ctx.exists(file)) ? { file, text: (await ctx.read(file)) ?? '' } : undefined;
        if (found !== undefined) {
          config = found;
          break;
        }
      }
      if (dep === undefined || (needsConfig === true && config === undefined)) return undefined;
      const match: FrameworkMatch = {
        id: data.id,
        name: data.name,
        reason: because(dep, config, []),
        outputDirectory: data.outputDirectory,
        ...(variant === undefined ? {} : { variant }),
        ...(data.buildCommand === undefined ? {} : { buildCommand: data.buildCommand }),
        ...(ignoreBuildScript === true ? { ignoreBuildScript } : {}),
      };
      return refine === undefined ? match : refine(ctx, match, config);
    },
  };
}

export function option(config: ConfigFile | undefined, key: string): string | undefined {
  return config === undefined ? undefined : stringOption(config.text, key);
}

/**
 * 'dependency "next" in package.json and output: "export" in next.config.ts': `configFacts`
 * were read from the config file, `otherFacts` from elsewhere (they say where themselves).
 */
export function because(deps: string | readonly string[] | undefined, config: ConfigFile | undefined, configFacts: string[], otherFacts: string[] = []): string {
  const names = (deps === undefined ? [] : typeof deps === 'string' ? [deps] : deps).map((name) => `"${name}"`);
  const parts: string[] = [];
  if (names.length > 0) parts.push(`${names.length === 1 ? 'dependency' : 'dependencies'} ${names.join(' and ')} in package.json`);
  if (config !== undefined) parts.push(configFacts.length > 0 ? `${configFacts.join(' and ')} in ${config.file}` : config.file);
  return [...parts, ...otherFacts].join(' and ');
}

export function server(kind: ServerKind, entry: string, start: string[], mounts: StaticMount[], extra: { startPackage?: string; bundleDir?: string } = {}): NonNullable<FrameworkMatch['server']> {
  return { kind, entry, start, staticDir: mounts[0]?.dir, mounts, ...extra };
}

/** A folder named in a config file, normalised, or undefined when it is absent, absolute or climbs out with "..". */
export function relativePath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const clean = value
    .trim()
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  if (clean === '' || clean === '.' || clean.startsWith('/') || /^[a-zA-Z]:/.test(clean) || clean.split(/[/\\]/).includes('..')) return undefined;
  return clean;
}
