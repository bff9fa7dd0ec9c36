import type { Client } from './client.js';
import type { Context } from './command.js';
import type { Deployment } from './deployments.js';
import { Spinner } from './progress.js';

const enc = encodeURIComponent;

/**
 * How long `deploy`, `promote` and `rollback` wait for every edge to serve the move (the worker
 * and the API wait 10 s for them); SLIPWAY_LIVE_WAIT_SECONDS sets another bound.
 */
function liveWaitMs(): number {
  const seconds = Number(process.env.SLIPWAY_LIVE_WAIT_SECONDS);
  return Number.isFinite(seconds) && seconds >= 0 && process.env.SLIPWAY_LIVE_WAIT_SECONDS !== '' ? seconds * 1000 : 15_000;
}

/**
 * Ready means live: a ready deployment is reported once every live edge serves it (liveAt),
 * or after its bounded wait with a note that some edge has not confirmed yet.
 */
export async function waitLive(api: Client, d: Deployment, spinner: Spinner): Promise<Deployment> {
  if (d.status !== 'ready' || d.liveAt !== null) return d;
  spinner.update('waiting for every edge to serve it…');
  const waitMs = liveWaitMs();
  const until = Date.now() + waitMs;
  let latest = d;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    latest = await api.request<Deployment>('GET', `/api/v1/deployments/${enc(d.id)}`);
    if (latest.liveAt !== null) return latest;
  }
  spinner.stop(`Not every edge confirmed serving ${d.id} within ${waitMs / 1000} s; they switch as soon as they can.`);
  return latest;
}

/** After a promote, rollback or prebuilt upload: wait, as deploy does, until every edge serves the move (liveAt). */
export async function waitLiveAfterMove(api: Client, d: Deployment, ctx: Context): Promise<Deployment> {
  if (d.status !== 'ready' || d.liveAt !== null) return d;
  const spinner = new Spinner(ctx.out);
  spinner.start('waiting for every edge to serve it…');
  try {
    return await waitLive(api, d, spinner);
  } finally {
    spinner.stop();
  }
}
