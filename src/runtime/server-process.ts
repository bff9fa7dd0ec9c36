import { spawn, type ChildProcess } from 'node:child_process';
import { request, type Agent } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readMaskedLines, SecretMasker } from '../masking/index.js';

const OUTPUT_LINES = 40;
const MAX_LINE = 2000;
/** between SIGTERM and SIGKILL */
const KILL_AFTER_MS = 3000;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export interface SpawnOptions {
  deploymentId: string;
  /** the materialized bundle: the process's working directory */
  cwd: string;
  entry: string;
  /** arguments after the entry */
  args?: string[] | undefined;
  env: Record<string, string>;
  memoryLimitMb?: number | undefined;
  startTimeoutMs: number;
  /** the agent later requests use: the health check's connection is kept for the first of them */
  agent?: Agent | undefined;
  /** every line the server prints, as it prints it */
  onOutput?: ((line: string) => void) | undefined;
  /** the node binary to run the entry with (default: the one running Slipway) */
  node?: string | undefined;
  /** argv to run node inside: a sandbox's prefix */
  wrap?: string[] | undefined;
  /** where the server must listen (default 127.0.0.1; 0.0.0.0 inside a sandbox's own network) */
  listenHost?: string | undefined;
  /** where this process reaches it (default 127.0.0.1; the sandbox's address) */
  host?: string | undefined;
  /** ports that must not be chosen (the runtime's other servers' ports, which it tells apart by port) */
  usedPorts?: ReadonlySet<number> | undefined;
}

/** A start that failed: the message ends with the server's last output lines. */
export class ServerStartError extends Error {
  constructor(
    message: string,
    readonly deploymentId: string,
    readonly output: string[],
  ) {
    super(output.length === 0 ? `${message} It printed nothing.` : `${message} Its last output:\n${output.join('\n')}`);
    this.name = 'ServerStartError';
  }
}

/**
 * One server process: spawned with a clean environment on a free loopback port, in its own
 * process group (so stopping it also stops anything it spawned).
 */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** the address the server is reached at */
  readonly host: string;
  readonly startedAt = Date.now();
  /** resolves with the exit code (or signal name) once the process is gone */
  readonly exited: Promise<string>;
  private readonly lines: string[] = [];
  /** called at the next line of output (a server usually prints one right after it listens) */
  private wake: (() => void) | undefined;
  private gone = false;
  private stopping: Promise<void> | undefined;

  private constructor(opts: SpawnOptions, port: number) {
    this.port = port;
    this.host = opts.host ?? '127.0.0.1';
    const listen = opts.listenHost ?? '127.0.0.1';
    const args = [...(opts.memoryLimitMb === undefined ? [] : [`--max-old-space-size=${opts.memoryLimitMb}`]), join(opts.cwd, opts.entry), ...(opts.args ?? [])];
    // Next.js builds a request's own origin from HOSTNAME, but its middleware sees any loopback
    // address as `localhost`: with 127.0.0.1 a middleware rewrite looks like another origin, and
    // Next proxies it to itself, over TLS when x-forwarded-proto says https (500, EPROTO;
    // vercel/next.js#94745). So on loopback it gets `localhost`, resolved IPv4 first so that it
    // listens on 127.0.0.1 where the runtime connects (the sandbox's hosts file names it too).
    const loopback = listen === '127.0.0.1';
    const nodeOptions = [opts.env.NODE_OPTIONS, loopback ? '--dns-result-order=ipv4first' : undefined].filter((o) => o !== undefined && o !== '').join(' ');
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      NODE_ENV: 'production',
      // Angular's server renders only for Hosts on its allow-list (else it falls back to the
      // client-side shell); the edge forwards only Hosts routed to this deployment, so none is
      // left to refuse. A project variable of the same name wins.
      NG_ALLOWED_HOSTS: '*',
      ...opts.env,
      // the runtime must know where the server listens, and it must not listen beyond loopback
      // or its sandbox's own network (HOSTNAME: Next.js; HOST: SvelteKit, Astro, Nuxt, React Router)
      PORT: String(port),
      HOSTNAME: loopback ? 'localhost' : listen,
      HOST: listen,
      ...(nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions }),
    };
    const node = opts.node ?? process.execPath;
    const [command, ...argv] = opts.wrap === undefined || opts.wrap.length === 0 ? [node, ...args] : [...opts.wrap, node, ...args];
    this.child = spawn(command!, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    // the deployment's values are masked on each stream before a line is cut (see src/masking)
    const masker = new SecretMasker(Object.values(opts.env));
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream === null) continue;
      readMaskedLines(stream, masker, (line) => {
        const cut = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
        this.lines.push(cut);
        if (this.lines.length > OUTPUT_LINES) this.lines.shift();
        opts.onOutput?.(cut);
        this.wake?.();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.lines.push(`spawn failed: ${err.message}`);
        this.gone = true;
        resolve('spawn-error');
      });
      this.child.once('exit', (code, signal) => {
        this.gone = true;
        // whatever it left behind in its group goes with it
        signalGroup(this.child.pid, 'SIGKILL');
        resolve(signal ?? String(code));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** the last lines the server printed (stdout and stderr interleaved) */
  output(): string[] {
    return [...this.lines];
  }

  /**
   * Spawn and wait until the server answers HTTP on its port (any status). Rejects with a
   * ServerStartError carrying its output when it exits first or does not answer in time.
   */
  static async start(opts: SpawnOptions): Promise<ServerProcess> {
    const proc = new ServerProcess(opts, await freePort(opts.usedPorts));
    const deadline = Date.now() + opts.startTimeoutMs;
    let exitCode: string | undefined;
    void proc.exited.then((code) => (exitCode = code));
    try {
      for (let attempt = 0; ; attempt += 1) {
        if (!proc.alive || exitCode !== undefined) {
          // let the last lines of output arrive before reporting them
          await new Promise((r) => setTimeout(r, 20));
          throw new ServerStartError(`The server (node ${opts.entry}) exited during start-up (${await proc.exited}).`, opts.deploymentId, proc.output());
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new ServerStartError(`The server (node ${opts.entry}) did not answer HTTP on its PORT within ${opts.startTimeoutMs} ms.`, opts.deploymentId, proc.output());
        if (await answers(proc.host, proc.port, left, opts.agent)) return proc;
        // poll fast early (a small server is up in ~50 ms), then back off a little; and try
        // again at once when it prints something, as most servers do once they listen
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise<void>((r) => (timer = setTimeout(r, attempt < 200 ? 5 : 25))), new Promise<void>((r) => (proc.wake = r)), proc.exited]);
        clearTimeout(timer);
        proc.wake = undefined;
      }
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }

  /** SIGKILL the process group now (a sandboxed server's inner processes die with bwrap). */
  kill(): void {
    if (!this.gone) signalGroup(this.child.pid, 'SIGKILL');
  }

  /** SIGTERM the process group, SIGKILL it if it is still there after a few seconds. */
  stop(killAfterMs = KILL_AFTER_MS): Promise<void> {
    this.stopping ??= (async () => {
      if (this.gone) return;
      signalGroup(this.child.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.child.pid, 'SIGKILL'), killAfterMs);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** true when something answers GET / on the port with any HTTP response */
function answers(host: string, port: number, timeoutMs: number, agent: Agent | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', method: 'GET', agent: agent ?? false, timeout: timeoutMs, headers: { 'user-agent': 'slipway-health-check' } }, (res) => {
      // read the body to its end so a kept-alive connection can serve the next request
      res.resume();
      res.once('end', () => resolve(true));
      res.once('error', () => resolve(true));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** A port on 127.0.0.1 that was free a moment ago, and not one of `used`. */
async function freePort(used: ReadonlySet<number> | undefined): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await anyFreePort();
    if (used?.has(port) !== true) return port;
  }
  return anyFreePort();
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
