import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/paths.js';

/** Debian's chromium: the tests never download a browser. */
export const CHROMIUM = process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
/** screenshots of every page, light and dark and at phone width (gitignored) */
export const SHOTS_DIR = join(repoRoot, 'test-output', 'dashboard');
export const DASHBOARD_BUILT = join(repoRoot, 'dist', 'dashboard', 'index.html');

// playwright-core's types are not needed for a handful of calls, and keeping them out lets the
// tree type-check before the package is installed; the objects are what playwright-core returns.
export type Browser = any;
export type Page = any;

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
  if (!existsSync(DASHBOARD_BUILT)) return 'the dashboard is not built (npm run build:dashboard)';
  return undefined;
}

/** playwright-core from the root node_modules, or the dashboard's own install while it is not in the root one yet. */
async function playwright(): Promise<{ chromium: { launch(o: unknown): Promise<Browser> } }> {
  const name = 'playwright-core';
  try {
    return (await import(name)) as never;
  } catch {
    const local = join(repoRoot, 'dashboard', 'node_modules', 'playwright-core', 'index.mjs');
    return (await import(pathToFileURL(local).href)) as never;
  }
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await playwright();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

const VARIANTS = [
  { suffix: 'light', colorScheme: 'light', viewport: { width: 1280, height: 860 } },
  { suffix: 'dark', colorScheme: 'dark', viewport: { width: 1280, height: 860 } },
  { suffix: 'phone', colorScheme: 'light', viewport: { width: 390, height: 844 } },
] as const;

/**
 * Screenshot the page as it is now in light, dark and at phone width; returns the files.
 * Checks on the way that nothing is wider than a phone's screen (no sideways scrolling).
 */
export async function screenshots(page: Page, name: string): Promise<{ files: string[]; phoneOverflow: number }> {
  await mkdir(SHOTS_DIR, { recursive: true });
  const files: string[] = [];
  const before = page.viewportSize();
  let phoneOverflow = 0;
  for (const v of VARIANTS) {
    await page.emulateMedia({ colorScheme: v.colorScheme, reducedMotion: 'reduce' });
    await page.setViewportSize(v.viewport);
    await page.waitForTimeout(50);
    if (v.suffix === 'phone') phoneOverflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    const file = join(SHOTS_DIR, `${name}-${v.suffix}.png`);
    await page.screenshot({ path: file, fullPage: true });
    files.push(file);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (before !== null) await page.setViewportSize(before);
  return { files, phoneOverflow };
}

/**
 * Resolves once the page has had no request in flight and nothing loading (no `aria-busy`
 * placeholder) for `quietMs`, its event streams aside: Playwright's 'networkidle' never comes
 * while an EventSource is open, so waiting for it only waits out its timeout. Use it after a
 * navigation, before asserting that something is absent.
 */
export async function settled(page: Page, quietMs = 500, timeoutMs = 15_000): Promise<void> {
  const inFlight = new Set<unknown>();
  const track = (request: any) => {
    if (request.resourceType() !== 'eventsource') inFlight.add(request);
  };
  const untrack = (request: unknown) => inFlight.delete(request);
  page.on('request', track);
  page.on('requestfinished', untrack);
  page.on('requestfailed', untrack);
  try {
    const until = Date.now() + timeoutMs;
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs) {
      if (Date.now() > until) throw new Error(`the page still had ${inFlight.size} request(s) in flight after ${timeoutMs} ms`);
      await page.waitForTimeout(50);
      const loading: boolean = await page.evaluate(`document.querySelector('[aria-busy="true"]') !== null`);
      if (inFlight.size > 0 || loading) quietSince = Date.now();
    }
  } finally {
    page.off('request', track);
    page.off('requestfinished', untrack);
    page.off('requestfailed', untrack);
  }
}
