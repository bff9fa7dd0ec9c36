import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { AppError } from '../errors/index.js';
import type { SecretMasker } from '../masking/index.js';
import type { LogFn } from './types.js';

const MAX_LINE = 4096;
const TAIL_LINES = 20;
const KILL_GRACE_MS = 5000;

export interface RunOptions {
  /** what the user sees: `npm run build` */
  label: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** epoch ms when the whole build must be over */
  deadline: number;
  /** the build's whole time budget, for the timeout message */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  log: LogFn;
  /** the sandbox's argv prefix (see openSandbox), or undefined to run unsandboxed */
  sandbox: string[] | undefined;
  /**
   * wrap in coreutils `timeout` so the command dies at the deadline even if this process is
   * killed; only without a sandbox (a sandbox dies with this process, and `timeout` in between
   * would keep it alive until the deadline)
   */
  hardTimeout: boolean;
  /** report whether any output line matched (e.g. npm ci's "lockfile out of sync") */
  watch?: RegExp | undefined;
  /** masks the build's secret values in its output before lines are cut (see lineSplitter) */
  masker?: SecretMasker | undefined;
}

export interface RunResult {
  code: number;
  /** the last lines the command printed, oldest first */
  tail: string[];
  /** some line matched `watch` */
  matched: boolean;
}

/**
 * Run one build command, streaming its output line by line to `log`. The command runs in its
 * own process group, which a timeout or an abort kills whole (SIGTERM, then SIGKILL).
 * Resolves with the exit code; rejects with BUILD_TIMEOUT, or the signal's reason on abort.
 */
export function runCommand(opts: RunOptions): Promise<RunResult> {
  const left = opts.deadline - Date.now();
  if (left <= 0) return Promise.reject(timeoutError(opts.timeoutMs));
  if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));

  let argv = opts.sandbox === undefined ? opts.argv : [...opts.sandbox, ...opts.argv];
  if (opts.hardTimeout && opts.sandbox === undefined) argv = ['timeout', '-k', String(KILL_GRACE_MS / 1000), String(Math.ceil(left / 1000) + 2), ...argv];
  const [file, ...args] = argv as [string, ...string[]];

  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    let matched = false;
    const emit = (line: string) => {
      opts.log(line);
      if (opts.watch?.test(line) === true) matched = true;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    const out = lineSplitter(emit, opts.masker);
    const err = lineSplitter(emit, opts.masker);
    child.stdout.on('data', out.write);
    child.stderr.on('data', err.write);

    let stopped: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'abort') => {
      if (stopped !== undefined) return;
      stopped = why;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), left);
    const onAbort = () => stop('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e) => {
      finish();
      reject(new Error(`could not start ${file}: ${e.message}`, { cause: e }));
    });
    let streamTimer: NodeJS.Timeout | undefined;
    child.on('exit', () => {
      // the command is done; nothing it left running in its group may live on, and a
      // process that escaped the group must not keep us waiting on its copy of the pipes
      killGroup(child.pid, 'SIGKILL');
      streamTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 2000);
    });
    child.on('close', (code, signal) => {
      finish();
      out.end();
      err.end();
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (streamTimer !== undefined) clearTimeout(streamTimer);
      // exit 124 is coreutils timeout reporting the deadline
      if (stopped === 'timeout' || (opts.hardTimeout && code === 124 && Date.now() >= opts.deadline)) reject(timeoutError(opts.timeoutMs));
      else if (stopped === 'abort') reject(abortReason(opts.signal));
      else resolve({ code: code ?? 128 + signalNumber(signal), tail, matched });
    });
  });
}

/**
 * Feed chunks in; get whole lines out, split on \n and \r, each at most MAX_LINE characters.
 * Secret values are masked on the decoded stream first, so no cut can split one out of sight.
 */
function lineSplitter(emit: (line: string) => void, masker: SecretMasker | undefined): { write: (chunk: Buffer) => void; end: () => void } {
  const decoder = new StringDecoder('utf8');
  const masked = masker?.stream();
  let pending = '';
  const drain = (final: boolean) => {
    const parts = pending.split(/\r\n|\r|\n/);
    pending = final ? '' : (parts.pop() ?? '');
    for (const part of parts) emitCapped(part);
    while (pending.length > MAX_LINE) {
      emit(pending.slice(0, MAX_LINE));
      pending = pending.slice(MAX_LINE);
    }
  };
  const emitCapped = (line: string) => {
    if (line === '') return;
    emit(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)} [line cut at ${MAX_LINE} characters]` : line);
  };
  return {
    write: (chunk: Buffer) => {
      const text = decoder.write(chunk);
      pending += masked === undefined ? text : masked.write(text);
      drain(false);
    },
    end: () => {
      const text = decoder.end();
      pending += masked === undefined ? text : masked.write(text) + masked.end();
      drain(true);
    },
  };
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is already gone
  }
}

function timeoutError(timeoutMs: number): AppError {
  return new AppError('BUILD_TIMEOUT', `The build did not finish within ${formatSeconds(timeoutMs)} and was stopped.`);
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The build was canceled.', 'AbortError');
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1;
}

export function formatSeconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
}
