import type { ServerResponse } from 'node:http';

const PAGES = {
  502: {
    title: '502 Bad Gateway',
    text: "This site's server is not answering: it stopped or crashed while handling the request. Reload the page in a moment; the server is started again on the next request.",
  },
  503: {
    title: '503 Service Unavailable',
    text: "This site's server could not be started. Its owner can find the reason in the deployment's log.",
  },
  504: {
    title: '504 Gateway Timeout',
    text: "This site's server took too long to start answering the request. Try again; if it keeps happening, the page does more work than the time limit allows.",
  },
} as const;

export type ErrorPageStatus = keyof typeof PAGES;

/** Answer with a small HTML error page, unless an answer has already begun (then cut it off). */
export function sendErrorPage(res: ServerResponse, status: ErrorPageStatus): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const page = PAGES[status];
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${page.title}</title></head><body><h1>${page.title}</h1><p>${page.text}</p></body></html>\n`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
