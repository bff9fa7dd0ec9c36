/**
 * Dashboard: time to interactive of a project page whose project has 1,000 deployments, in
 * headless Chromium against a real `slipway up`, and the bytes it transferred (compressed, as sent).
 * One deployment is built for real; the other 999 are copies of its row with other ids, branches
 * and statuses, written while Slipway is stopped (building 1,000 sites would measure the builder).
 */
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserMissing, launchChromium, type Page } from '../test/dashboard/browser.js';
import { makeRepo } from '../test/helpers/git.js';
import { startSlipwayProcess, TOKEN, waitForStatus, type RunningSlipway } from '../test/helpers/slipway.js';
import { median, ms } from './stats.js';

const DEPLOYMENTS = 1000;
const RUNS = Number(process.env.SLIPWAY_BENCH_DASHBOARD_RUNS ?? 5);

export async function run() {
  const why = browserMissing();
  if (why !== undefined) return { title: 'Dashboard: skipped', rows: [], notes: [why] };
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-dash-'));
  const data = join(dir, 'data');
  let slipway: RunningSlipway | undefined = await startSlipwayProcess(data, ['--edge-workers', '1']);
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commit({ 'index.html': '<h1>bench</h1>' }, 'bench site');
    await repo.push();
    await slipway.api('POST', '/api/v1/projects', { name: 'bench', repoUrl: repo.url });
    const { body } = await slipway.api('POST', '/api/v1/projects/bench/deployments', {});
    await waitForStatus(slipway, body.id, ['ready']);
    await slipway.stop();
    copyDeployments(join(data, 'slipway.db'), body.id, DEPLOYMENTS - 1);
    slipway = await startSlipwayProcess(data, ['--edge-workers', '1']);
    const url = `${slipway.apiUrl}/p/bench`;

    browser = await launchChromium();
    const cold: number[] = [];
    const warm: number[] = [];
    const more: number[] = [];
    let moreRows = 0;
    let bytes: Transfer | undefined;
    let rows = 0;
    for (let i = 0; i < RUNS; i++) {
      // a fresh context is a first visit: empty HTTP cache
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      await context.addInitScript(`sessionStorage.setItem('slipway.token', ${JSON.stringify(TOKEN)})`);
      const page: Page = await context.newPage();
      const transfer = countBytes(page);
      const first = await timeToInteractive(page, url);
      cold.push(first.ms);
      rows = first.rows;
      if (i === 0) {
        await page.waitForTimeout(300);
        bytes = await transfer();
      }
      // "Load more": the rest of what one request gives, rendered
      const t = performance.now();
      await page.getByRole('button', { name: 'Load more' }).click();
      await page.waitForFunction(`document.querySelectorAll('.dep-row').length > ${first.rows}`, null, { timeout: 30_000, polling: 'raf' });
      more.push(performance.now() - t);
      moreRows = await page.locator('.dep-row').count();
      // the same tab again: assets from the HTTP cache, index.html revalidated
      warm.push((await timeToInteractive(page, url)).ms);
      await context.close();
    }
    return {
      title: `Dashboard: project page with ${DEPLOYMENTS} deployments (headless Chromium, ${RUNS} runs)`,
      rows: [
        { load: 'first visit (empty cache)', 'TTI median ms': ms(median(cold)), 'TTI min ms': ms(Math.min(...cold)), 'TTI max ms': ms(Math.max(...cold)), 'rows shown': rows },
        { load: 'repeat visit (cached assets)', 'TTI median ms': ms(median(warm)), 'TTI min ms': ms(Math.min(...warm)), 'TTI max ms': ms(Math.max(...warm)), 'rows shown': rows },
        { load: '"Load more" click to rows shown', 'TTI median ms': ms(median(more)), 'TTI min ms': ms(Math.min(...more)), 'TTI max ms': ms(Math.max(...more)), 'rows shown': moreRows },
      ],
      notes: [
        `first visit transferred ${kb(bytes?.total)} KB: JavaScript ${kb(bytes?.js)} KB, CSS ${kb(bytes?.css)} KB, HTML ${kb(bytes?.html)} KB, API JSON ${kb(bytes?.json)} KB (compressed sizes as sent; the SSE stream not counted)`,
        'TTI: from navigation start to the first page of deployment rows rendered with their handlers attached and the live stream open, measured in the page (performance.now()).',
        'The page asks for the newest 50 first; "Load more" asks for the next page (by the API\'s nextCursor where it gives one, else the newest 200, its largest page).',
      ],
    };
  } finally {
    await browser?.close();
    await slipway?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function copyDeployments(file: string, fromId: string, count: number): void {
  const db = new Database(file);
  try {
    const row = db.prepare('SELECT * FROM deployments WHERE id = ?').get(fromId) as Record<string, unknown>;
    const cols = Object.keys(row);
    const insert = db.prepare(`INSERT INTO deployments (${cols.join(',')}) VALUES (${cols.map((c) => `@${c}`).join(',')})`);
    const statuses = ['ready', 'ready', 'ready', 'failed', 'canceled'];
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const id = `d${(1e10 + i).toString(36).padStart(11, '0').slice(-11)}`;
        const status = statuses[i % statuses.length];
        insert.run({
          ...row,
          id,
          seq: Number(row.seq) - (count - i),
          status,
          branch: i % 3 === 0 ? `feature-${i % 17}` : 'main',
          target: i % 3 === 0 ? 'preview' : 'production',
          commit_message: `Change number ${i}`,
          created_at: Number(row.created_at) - (count - i) * 60_000,
          error_code: status === 'failed' ? 'BUILD_FAILED' : null,
          error_message: status === 'failed' ? 'npm run build exited with code 1' : null,
        });
      }
    })();
  } finally {
    db.close();
  }
}

async function timeToInteractive(page: Page, url: string): Promise<{ ms: number; rows: number }> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(`document.querySelectorAll('.dep-row').length > 0 && document.querySelector('.live.live') !== null`, null, { timeout: 30_000, polling: 'raf' });
  return page.evaluate(`({ ms: performance.now(), rows: document.querySelectorAll('.dep-row').length })`);
}

interface Transfer {
  total: number;
  js: number;
  css: number;
  html: number;
  json: number;
}

/** Sum the compressed bytes of every finished response (headers included) by kind. */
function countBytes(page: Page): () => Promise<Transfer> {
  const pending: Promise<void>[] = [];
  const t: Transfer = { total: 0, js: 0, css: 0, html: 0, json: 0 };
  page.on('requestfinished', (req: { url(): string; sizes(): Promise<{ responseBodySize: number; responseHeadersSize: number }> }) => {
    pending.push(
      req.sizes().then((s) => {
        const n = s.responseBodySize + s.responseHeadersSize;
        t.total += n;
        const u = req.url();
        if (u.endsWith('.js')) t.js += n;
        else if (u.endsWith('.css')) t.css += n;
        else if (u.includes('/api/')) t.json += n;
        else t.html += n;
      }),
    );
  });
  return async () => {
    await Promise.all(pending);
    // a copy: requests after this moment (Load more, the reload) keep adding to `t`
    return { ...t };
  };
}

const kb = (n: number | undefined) => (n === undefined ? '?' : (n / 1024).toFixed(1));
