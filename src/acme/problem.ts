import acme from 'acme-client';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { readFileSync } from 'node:fs';
import { AppError } from '../errors/index.js';

/** An RFC 8555 §6.7 problem document as the CA sent it, with its Retry-After. */
export interface AcmeProblem {
  /** "urn:ietf:params:acme:error:rateLimited" */
  type: string;
  detail: string;
  status: number;
  /** when the CA says to come back (Retry-After), epoch ms */
  retryAt: number | undefined;
}

/** An order that did not give a certificate: what to tell the user, and when to try again. */
export class AcmeFailure extends Error {
  readonly problem: AcmeProblem | undefined;
  /** true: the CA (or our own count of its limits) says "not now" */
  readonly rateLimited: boolean;
  readonly retryAt: number | undefined;

  constructor(message: string, opts: { problem?: AcmeProblem; rateLimited?: boolean; retryAt?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AcmeFailure';
    this.problem = opts.problem;
    this.rateLimited = opts.rateLimited ?? false;
    this.retryAt = opts.retryAt;
  }
}

let lastProblem: AcmeProblem | undefined;
let installed = false;

/**
 * acme-client turns a CA's problem into a bare Error(detail) and, on a 429, sleeps for the whole
 * Retry-After (hours, for a rate limit) before retrying. Slipway keeps its own schedule instead:
 * no client-side retries, and every problem document is kept so the caller can read its type
 * and Retry-After. The manager runs one ACME request at a time, so "the last problem" is the
 * one of the request that just failed. `caFile`: roots to trust for the directory's HTTPS, on
 * acme-client's own axios instance only (no process-wide TLS setting changes).
 */
export function configureAcmeHttp(caFile: string | undefined): void {
  if (caFile !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new AppError('CONFIG', `--acme-ca-file ${caFile} cannot be read: ${(error as Error).message}`, {
        cause: error,
        hint: "Point it at the PEM of the CA that signed the ACME directory's HTTPS certificate, e.g. --acme-ca-file /etc/slipway/pebble-ca.pem",
      });
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new AppError('CONFIG', `--acme-ca-file ${caFile} holds no PEM certificate.`, { hint: 'Point it at a PEM file (-----BEGIN CERTIFICATE-----).' });
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, pem], keepAlive: true });
  }
  if (installed) return;
  installed = true;
  (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings!.retryMaxAttempts = 0;
  // acme-client's own error handler assumes every failure has a response: a refused connection
  // becomes "Cannot read properties of undefined". Say what happened instead, ahead of it (an
  // error without `config` passes its handler untouched).
  acme.axios.interceptors.response.use(null, (error: { config?: { url?: string }; response?: unknown; code?: string; message?: string }) => {
    if (error.response !== undefined) return Promise.reject(error);
    return Promise.reject(new Error(`cannot reach ${error.config?.url ?? 'the ACME directory'}: ${error.code ?? error.message ?? 'network error'}`));
  });
  const handlers = (acme.axios.interceptors.response as unknown as { handlers?: unknown[] }).handlers;
  if (Array.isArray(handlers)) handlers.unshift(handlers.pop());
  acme.axios.interceptors.response.use((response) => {
    const data = response.data as { type?: unknown; detail?: unknown } | undefined;
    if (response.status >= 400 && data !== undefined && typeof data === 'object' && typeof data.type === 'string') {
      lastProblem = {
        type: data.type,
        detail: typeof data.detail === 'string' ? data.detail : data.type,
        status: response.status,
        retryAt: parseRetryAfter(response.headers['retry-after'] as string | undefined, Date.now()),
      };
    }
    return response;
  });
}

/** Forget the last problem (call before an ACME step) / take the one the step left. */
export function clearProblem(): void {
  lastProblem = undefined;
}

export function takeProblem(): AcmeProblem | undefined {
  const p = lastProblem;
  lastProblem = undefined;
  return p;
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return now + Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

/** "urn:ietf:params:acme:error:rateLimited" -> "rateLimited" */
export function shortType(type: string): string {
  return type.replace(/^urn:ietf:params:acme:error:/, '');
}

/**
 * Wrap whatever an ACME step threw into an AcmeFailure that says what the CA said, including
 * whether it is a rate limit and when to come back.
 */
export function failureFrom(step: string, error: unknown): AcmeFailure {
  if (error instanceof AcmeFailure) return error;
  const problem = takeProblem();
  const message = error instanceof Error ? error.message : String(error);
  if (problem !== undefined) {
    const rateLimited = problem.type.endsWith(':rateLimited') || problem.status === 429;
    return new AcmeFailure(`${step}: ${problem.detail} (${shortType(problem.type)})`, { problem, rateLimited, retryAt: problem.retryAt, cause: error });
  }
  return new AcmeFailure(`${step}: ${message}`, { cause: error });
}
