import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyPassword } from '../auth/index.js';
import type { HostProtection } from './types.js';

/** Where the password form posts (a path no site can own while its host is protected). */
export const PROTECTION_PATH = '/__slipway/protection';
export const BYPASS_HEADER = 'x-slipway-protection-bypass';
const BYPASS_QUERY = 'slipway-bypass';
const COOKIE = 'slipway_protection';
const COOKIE_MAX_AGE_S = 12 * 3600;
const MAX_FORM_BYTES = 4096;

/** The cookie value that lets a browser in until `expires` (seconds): `<expires>.<hmac>`. */
function cookieValue(p: HostProtection, expires: number): string {
  return `${expires}.${createHmac('sha256', Buffer.from(p.cookieKey, 'hex')).update(`${p.scope}:${expires}`).digest('base64url')}`;
}

function sameText(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function hasValidCookie(req: IncomingMessage, p: HostProtection): boolean {
  const header = req.headers.cookie;
  if (header === undefined) return false;
  for (const part of header.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name !== COOKIE || value === undefined) continue;
    const expires = Number(value.split('.')[0]);
    if (Number.isInteger(expires) && expires * 1000 > Date.now() && sameText(value, cookieValue(p, expires))) return true;
  }
  return false;
}

function tokenMatches(p: HostProtection, given: string | undefined): boolean {
  if (p.mode !== 'token' || p.tokenHash === undefined || given === undefined || given === '') return false;
  return sameText(createHash('sha256').update(given).digest('hex'), p.tokenHash);
}

function accessCookie(p: HostProtection, secure: boolean): string {
  const expires = Math.floor(Date.now() / 1000) + COOKIE_MAX_AGE_S;
  return `${COOKIE}=${cookieValue(p, expires)}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** A WebSocket or other upgrade gets no form: it passes with the cookie or the bypass header, or not at all. */
export function upgradeAdmitted(req: IncomingMessage, p: HostProtection): boolean {
  const header = req.headers[BYPASS_HEADER];
  return hasValidCookie(req, p) || tokenMatches(p, typeof header === 'string' ? header : undefined);
}

/**
 * Deployment protection at the edge: true when the request may go on to the site (it carries
 * the access cookie, the bypass token in the header or the query); otherwise this answers it,
 * with the password form (401) or the form's result, and returns false.
 */
export function admitProtected(req: IncomingMessage, res: ServerResponse, p: HostProtection, target: string, path: string, secure: boolean, isHead: boolean): boolean {
  if (path === PROTECTION_PATH && req.method === 'POST') {
    void submitForm(req, res, p, secure);
    return false;
  }
  if (hasValidCookie(req, p)) return true;
  const header = req.headers[BYPASS_HEADER];
  if (tokenMatches(p, typeof header === 'string' ? header : undefined)) return true;
  const query = target.indexOf('?');
  if (query !== -1 && tokenMatches(p, new URLSearchParams(target.slice(query + 1)).get(BYPASS_QUERY) ?? undefined)) {
    // a link with the token: the browser keeps a cookie, so the page's own requests get in too
    res.setHeader('Set-Cookie', accessCookie(p, secure));
    return true;
  }
  sendForm(res, p, 401, target, undefined, isHead);
  return false;
}

/**
 * Wrong answers per client address and environment in the current minute: past the limit the
 * form answers 429 without checking, so a password cannot be guessed at the speed of the edge.
 */
const FAILURES_PER_MINUTE = 10;
const failures = new Map<string, { count: number; until: number }>();

function tooManyFailures(key: string): boolean {
  const entry = failures.get(key);
  return entry !== undefined && entry.until > Date.now() && entry.count >= FAILURES_PER_MINUTE;
}

function recordFailure(key: string): void {
  const now = Date.now();
  if (failures.size > 10_000) failures.clear();
  const entry = failures.get(key);
  if (entry === undefined || entry.until <= now) failures.set(key, { count: 1, until: now + 60_000 });
  else entry.count += 1;
}

async function submitForm(req: IncomingMessage, res: ServerResponse, p: HostProtection, secure: boolean): Promise<void> {
  const key = `${req.socket.remoteAddress ?? ''} ${p.cookieKey}`;
  if (tooManyFailures(key)) {
    req.resume();
    res.setHeader('Retry-After', '60');
    sendForm(res, p, 429, '/', 'Too many wrong attempts; wait a minute and try again.', false);
    return;
  }
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        sendForm(res, p, 413, '/', 'That was too long.', false);
        return;
      }
      chunks.push(chunk);
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const secret = form.get('password') ?? '';
    const next = safeNext(form.get('next'));
    const ok = p.mode === 'password' ? p.passwordHash !== undefined && (await verifyPassword(secret, p.passwordHash)) : tokenMatches(p, secret);
    if (!ok) {
      recordFailure(key);
      sendForm(res, p, 401, next, p.mode === 'password' ? 'Wrong password.' : 'Wrong token.', false);
      return;
    }
    res.writeHead(303, { Location: next, 'Set-Cookie': accessCookie(p, secure), 'Cache-Control': 'no-store', 'Content-Length': '0' });
    res.end();
  } catch {
    if (!res.headersSent) sendForm(res, p, 400, '/', 'The form could not be read.', false);
  }
}

/** Only a path on this host (never `//elsewhere` or a URL): the form cannot redirect a visitor away. */
function safeNext(next: string | null): string {
  if (next === null || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendForm(res: ServerResponse, p: HostProtection, status: number, next: string, problem: string | undefined, isHead: boolean): void {
  const what = p.mode === 'password' ? 'password' : 'access token';
  const body = `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Protected</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:15vh auto;padding:0 1rem}input,button{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}</style>
<h1>This deployment is protected</h1>
<p>Enter the ${what} to see it.</p>${problem === undefined ? '' : `<p role="alert">${escapeHtml(problem)}</p>`}
<form method="post" action="${PROTECTION_PATH}"><input type="hidden" name="next" value="${escapeHtml(safeNext(next))}">
<label>${what[0]!.toUpperCase()}${what.slice(1)} <input type="password" name="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Continue</button></form>
`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    // the form must not be framed by another site (a password typed into someone else's page)
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(isHead ? undefined : body);
}
