// The few functions of npm's own `semver` package that Slipway uses (its package ships no types).
declare module 'semver' {
  /** the range in its normal form, or null when it is not one */
  export function validRange(range: string): string | null;
  /** the newest of `versions` inside the range, or null */
  export function maxSatisfying(versions: readonly string[], range: string): string | null;
  export function satisfies(version: string, range: string): boolean;
  export function valid(version: string): string | null;
  export function prerelease(version: string): readonly (string | number)[] | null;
  export function major(version: string): number;
  export function compare(a: string, b: string): -1 | 0 | 1;
}
