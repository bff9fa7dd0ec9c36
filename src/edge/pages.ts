/** The edge's own small HTML pages for answers that are not a deployment's file. */
import type { ServerResponse } from 'node:http';
import type { HostRedirect } from './types.js';

export function page(title: string, body: string): Buffer {
  return Buffer.from(
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
      `<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}` +
      'code{background:#f2f2f2;padding:0 .2em}</style></head>\n' +
      `<body><h1>${title}</h1>\n${body}\n<p><small>Slipway</small></p></body></html>\n`,
  );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page for a Host that no alias or deployment answers to. */
export function unknownHostPage(host: string): Buffer {
  const shown = escapeHtml(host);
  return page(
    'No site here',
    `<p>No site is deployed at <code>${shown}</code>.</p>\n` +
      '<p>If this is your domain: add it to a project in Slipway, or check that the project has a ready ' +
      'deployment and that its production alias points at it. If you followed a link: check the address; ' +
      'the site may have moved or been removed.</p>',
  );
}

/** A deployment's own host after retention removed the deployment: a 404 that says why. */
export function removedDeploymentPage(deploymentId: string): Buffer {
  return page(
    'Deployment removed',
    `<p>Deployment <code>${escapeHtml(deploymentId)}</code> was removed by its project's retention settings: its files are no longer stored.</p>\n` +
      "<p>The project's production and preview addresses serve its current deployments. To keep deployments longer, raise the project's retention (<code>slipway retention</code>).</p>",
  );
}

/** The 404 page of a host that serves no deployment: the removed deployment's, else the unknown host's. */
export function hostMissPage(host: string, settings: { removed?: { deploymentId: string } } | undefined): Buffer {
  return settings?.removed === undefined ? unknownHostPage(host) : removedDeploymentPage(settings.removed.deploymentId);
}

export const NOT_FOUND_PAGE = page('404 Not Found', '<p>There is no file at this address in this deployment. Check the URL.</p>');
export const BAD_REQUEST_PAGE = page(
  '400 Bad Request',
  '<p>The request path or Host header is malformed (for example <code>..</code> segments, backslashes, ' + 'control characters, bad percent-encoding or an overlong path). Request a plain URL.</p>',
);
export const METHOD_NOT_ALLOWED_PAGE = page('405 Method Not Allowed', '<p>This address serves static files: use GET or HEAD.</p>');
export const INTERNAL_ERROR_PAGE = page('500 Internal Server Error', '<p>The edge could not read this deployment’s files. The error was logged; try again in a moment.</p>');
export const BAD_GATEWAY_PAGE = page('502 Bad Gateway', '<p>The edge could not find out which deployment serves this host. The error was logged; try again in a moment.</p>');

/** An HTTPS request for a host no certificate covers: the handshake used the default certificate. */
export function noCertificatePage(host: string): Buffer {
  const shown = escapeHtml(host);
  return page(
    'No certificate for this site yet',
    `<p>This server has no TLS certificate for <code>${shown}</code>, so your browser was shown a ` +
      'placeholder certificate and this page instead of the site.</p>\n' +
      `<p>If this is your domain: add it to a project (<code>slipway domains add ${shown}</code>) and point its DNS ` +
      'at this server; Slipway gets a certificate as soon as the DNS is right (<code>slipway domains ls</code> shows ' +
      'what it waits for). Or start Slipway with <code>--tls-cert</code> and <code>--tls-key</code> for a certificate of ' +
      `your own. Until then the site answers on <code>http://${shown}/</code>.</p>`,
  );
}

/** A 502 for an AWS preview whose function did not answer (unreachable, refused, too slow): names the deployment, not the reason (that is logged). */
export function functionUnreachablePage(deploymentId: string): Buffer {
  return page(
    '502 Bad Gateway',
    `<p>The server function of deployment <code>${escapeHtml(deploymentId)}</code> on AWS did not answer. The error was logged; try again in a moment.</p>\n` +
      "<p>Its Function URL is in the deployment's AWS record (<code>slipway</code> API: <code>GET /api/v1/deployments/&lt;id&gt;/aws</code>).</p>",
  );
}

/** A redirect domain: the same path and query on the host it redirects to, whatever the method. */
export function redirectHost(res: ServerResponse, redirect: HostRedirect, scheme: 'http' | 'https', target: string, isHead: boolean): void {
  const location = `${scheme}://${redirect.to}${target}`;
  const body = Buffer.from(`Redirecting to ${location}\n`);
  res.writeHead(redirect.status, ['Location', location, 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'Cache-Control', 'no-store']);
  if (isHead) res.end();
  else res.end(body);
}
