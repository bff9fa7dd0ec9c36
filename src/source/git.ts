import { spawn } from 'node:child_process';

/** Transports a repoUrl may use; `ext::` and friends (which run commands) are refused by git itself. */
const ALLOWED_PROTOCOLS = 'https:http:ssh:git:file';

/** Machine settings git needs to reach a host (CA bundles, proxies); never tokens. */
const PASS_THROUGH = ['HOME', 'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'SSH_AUTH_SOCK'];

/**
 * The environment every git call gets: built from an allow-list, so tokens in the platform's
 * environment (GITHUB_TOKEN, GIT_ASKPASS, SLIPWAY_*) never reach git or a credential prompt.
 */
export function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: ALLOWED_PROTOCOLS,
    // BatchMode: a missing key fails at once instead of waiting for a passphrase nobody types
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
  };
  for (const name of PASS_THROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run `git <args>` (argv, no shell) in its own process group so a timeout or an abort also
 * stops the helpers git starts (git-remote-https, ssh). Resolves with the exit code; never
 * rejects for a non-zero exit, so callers can read git's stderr.
 */
export function runGit(args: string[], opts: { cwd?: string; timeoutMs: number; signal?: AbortSignal | undefined }): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason);
      return;
    }
    const child = spawn('git', args, { cwd: opts.cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let aborted = false;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 3000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`could not start git: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (aborted) {
        reject(opts.signal?.reason ?? new Error('aborted'));
        return;
      }
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
    });
  });
}

/** `https://user:token@host/x.git` -> `https://***@host/x.git`, for logs and error messages. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}
