import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { toError } from '../errors/index.js';
import type { ServerBundle } from '../manifest/index.js';
import { BundleDir, type MaterializedBundle } from './bundles.js';
import { launchServer } from './launch.js';
import type { RuntimeOptions, RuntimeStatus, ServerLimitOverrides } from './options.js';
import { sweepIdle } from './idle.js';
import { watchMemory, type WatchedServer } from './memory.js';
import { sendErrorPage } from './pages.js';
import { proxyHttp, type ProxyOptions } from './proxy.js';
import type { ServerProcess } from './server-process.js';
import { countCrash, type Instance, newInstance, restartDelayMs, SETTLE_MS } from './instance.js';
import { proxyUpgrade } from './upgrade.js';
import { logger } from '../log/index.js';

const runtimeLog = logger('runtime');

/**
 * Runs the server processes of SSR deployments on loopback and proxies requests to them:
 * started on demand, kept warm while pinned (an alias points at them), stopped when idle
 * otherwise, restarted after a crash, drained before they stop.
 *
 * Zero-downtime alias move, the kamal-proxy way:
 * `await runtime.ensure(next, bundle, env); moveAlias(...); await runtime.drain(previous, 30_000)`
 * and per request: `const target = await runtime.ensure(id, bundle, env); runtime.proxy(req, res, id, target, { proto, clientIp })`
 * (call proxy right after ensure: a drain waits only briefly for a proxy call that has not begun).
 */
export class Runtime {
  private readonly opts: Required<Pick<RuntimeOptions, 'idleMs' | 'startTimeoutMs' | 'requestTimeoutMs'>> & RuntimeOptions;
  private readonly log: (message: string, error?: Error) => void;
  /** the instance ensure answers with, per deployment */
  private readonly active = new Map<string, Instance>();
  /** every instance with a process or a start under way, draining ones included */
  private readonly live = new Set<Instance>();
  private readonly byPort = new Map<number, Instance>();
  private readonly drains = new Map<string, Promise<void>>();
  private pinned = new Set<string>();
  private closed = false;
  private readonly stopSweeping: () => void;
  private readonly stopMemoryWatch: () => void;
  private readonly bundles: BundleDir;
  private readonly goneListeners = new Set<(deploymentId: string, port: number) => void>();

  constructor(opts: RuntimeOptions) {
    this.opts = { idleMs: 15 * 60_000, startTimeoutMs: 30_000, requestTimeoutMs: 60_000, ...opts };
    this.log = opts.log ?? ((message, error) => runtimeLog.warn(error === undefined ? {} : { err: error }, message));
    this.stopSweeping = sweepIdle(
      this.opts.idleMs,
      () => [...this.active.values()].filter((i) => i.proc !== undefined && i.starting === undefined && !this.pinned.has(i.deploymentId)),
      (inst) => {
        this.log(`${inst.deploymentId}: idle for ${Math.round(this.opts.idleMs / 1000)} s, stopping it`);
        this.active.delete(inst.deploymentId);
        void this.retire(inst, 0);
      },
    );
    // the crash handling restarts a server killed for its memory; its in-flight requests get a 502
    this.stopMemoryWatch = watchMemory(opts.memoryCheckMs ?? 1000, () => (this.closed ? [] : this.memoryWatched()), this.log);
    this.bundles = new BundleDir({
      blobs: opts.blobs,
      dir: opts.dir,
      dataDir: opts.dataDir,
      onIntegrityError: opts.onIntegrityError,
      log: this.log,
      inUse: () => [...this.active.keys(), ...[...this.live].map((i) => i.deploymentId)],
      collect: opts.collectBundles,
    });
  }

  /** Write a deployment's bundle to `<dir>/<deploymentId>/` unless it is there and check its bytes (see BundleDir); returns that folder and the deployment's writable one. */
  materialize(deploymentId: string, bundle: ServerBundle): Promise<MaterializedBundle> {
    return this.bundles.materialize(deploymentId, bundle);
  }

  /** Remove bundles no server here uses and no process used for `unusedMs` (see BundleDir). Returns the deployment ids removed. */
  collectBundles(unusedMs?: number): Promise<string[]> {
    return this.bundles.collect(unusedMs);
  }

  private memoryWatched(): WatchedServer[] {
    return [...this.live].flatMap((inst) => {
      const proc = inst.proc;
      const heapMb = this.memoryLimitOf(inst);
      if (proc?.alive !== true || proc.pid === undefined || heapMb === undefined) return [];
      const kill = (why: string) => {
        if (!proc.alive) return;
        inst.killedFor = why;
        this.log(`${inst.deploymentId}: killing the server (pid ${proc.pid}): ${why}`);
        proc.kill();
      };
      return [{ pid: proc.pid, heapMb, kill }];
    });
  }

  private memoryLimitOf(inst: Instance): number | undefined {
    return inst.limits.memoryLimitMb ?? this.opts.memoryLimitMb;
  }

  /**
   * Make sure the deployment's server runs and answers HTTP; returns its loopback port.
   * Concurrent calls share one start. A start that fails rejects with a ServerStartError whose
   * message ends with the server's last output lines.
   */
  async ensure(deploymentId: string, bundle: ServerBundle, env: Record<string, string>, limits: ServerLimitOverrides = {}): Promise<{ host: string; port: number; requestTimeoutMs: number }> {
    if (this.closed) throw new Error('the runtime is closed');
    let inst = this.active.get(deploymentId);
    if (inst === undefined) {
      inst = newInstance(deploymentId, bundle, env, limits);
      this.active.set(deploymentId, inst);
    } else {
      inst.bundle = bundle;
      inst.env = env;
      inst.limits = limits;
    }
    inst.lastRequestAt = Date.now();
    const proc = inst.proc?.alive === true ? inst.proc : await this.start(inst);
    inst.lastEnsureAt = Date.now();
    return { host: proc.host, port: proc.port, requestTimeoutMs: inst.limits.requestTimeoutMs ?? this.opts.requestTimeoutMs };
  }

  /**
   * Count a request to these deployments now, for the idle stop: what ensure does, for requests
   * proxied elsewhere (edge processes that reach the servers' ports themselves).
   */
  touch(deploymentIds: Iterable<string>): void {
    const now = Date.now();
    for (const id of deploymentIds) {
      const inst = this.active.get(id);
      if (inst !== undefined) inst.lastRequestAt = now;
    }
  }

  /**
   * Call `listener` whenever a server's port stops being the deployment's: its process is taken
   * out of service (idle stop, drain) or exits (crash, memory kill). Returns the unsubscribe.
   * Processes that proxy to ports by themselves use it to forget a port before it is reused.
   */
  onServerGone(listener: (deploymentId: string, port: number) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  private serverGone(deploymentId: string, port: number): void {
    for (const listener of this.goneListeners) {
      try {
        listener(deploymentId, port);
      } catch (err) {
        this.log(`${deploymentId}: a server-gone listener failed`, toError(err));
      }
    }
  }

  /**
   * Proxy one request to the process ensure returned. Resolves when the exchange is over;
   * never rejects (a dead server gives a 502 page, a slow one a 504).
   */
  async proxy(req: IncomingMessage, res: ServerResponse, deploymentId: string, target: { port: number }, opts: ProxyOptions): Promise<void> {
    const inst = this.byPort.get(target.port);
    if (inst === undefined || inst.deploymentId !== deploymentId || inst.agent === undefined) {
      sendErrorPage(res, 502);
      return;
    }
    inst.inFlight += 1;
    inst.lastRequestAt = Date.now();
    try {
      await proxyHttp(req, res, { host: inst.proc?.host ?? '127.0.0.1', port: target.port, agent: inst.agent, requestTimeoutMs: inst.limits.requestTimeoutMs ?? this.opts.requestTimeoutMs }, opts);
    } finally {
      inst.inFlight -= 1;
      inst.lastRequestAt = Date.now();
    }
  }

  /**
   * Relay an upgrade request (the http server's 'upgrade' event: WebSocket) to the process
   * ensure returned. An open upgraded connection counts as a request in flight: it keeps the
   * deployment from idling out, and a drain waits for it up to its grace.
   */
  async proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deploymentId: string, target: { port: number }, opts: ProxyOptions): Promise<void> {
    const inst = this.byPort.get(target.port);
    if (inst === undefined || inst.deploymentId !== deploymentId) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    inst.inFlight += 1;
    inst.lastRequestAt = Date.now();
    try {
      await proxyUpgrade(req, socket, head, { host: inst.proc?.host ?? '127.0.0.1', port: target.port }, opts);
    } finally {
      inst.inFlight -= 1;
      inst.lastRequestAt = Date.now();
    }
  }

  /** The deployments aliases point at: kept warm and restarted at once after a crash. Others idle out. */
  pin(deploymentIds: Set<string>): void {
    this.pinned = new Set(deploymentIds);
    for (const inst of this.active.values()) {
      if (inst.restartTimer !== undefined && !this.pinned.has(inst.deploymentId)) {
        clearTimeout(inst.restartTimer);
        inst.restartTimer = undefined;
        this.active.delete(inst.deploymentId);
      }
    }
  }

  /**
   * Take the deployment's process out of service: ensure no longer answers with it (a later
   * ensure starts a fresh one), its in-flight requests finish (streams included) or graceMs
   * passes, then it gets SIGTERM, and SIGKILL a few seconds later.
   */
  drain(deploymentId: string, graceMs: number): Promise<void> {
    const inst = this.active.get(deploymentId);
    if (inst === undefined) return this.drains.get(deploymentId) ?? Promise.resolve();
    this.active.delete(deploymentId);
    const pending = this.retire(inst, graceMs);
    this.drains.set(deploymentId, pending);
    void pending.finally(() => {
      if (this.drains.get(deploymentId) === pending) this.drains.delete(deploymentId);
    });
    return pending;
  }

  /** Stop every process (SIGTERM, then SIGKILL) and wait until all are gone. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopSweeping();
    this.stopMemoryWatch();
    await this.bundles.close();
    for (const inst of this.active.values()) clearTimeout(inst.restartTimer);
    this.active.clear();
    const all = [...this.live];
    await Promise.all(
      all.map(async (inst) => {
        inst.retiring = true;
        await inst.starting?.catch(() => undefined);
        await inst.proc?.stop();
      }),
    );
    await Promise.all([...this.drains.values()]);
  }

  status(): RuntimeStatus[] {
    const out: RuntimeStatus[] = [];
    const seen = new Set<Instance>();
    for (const inst of [...this.live, ...this.active.values()]) {
      if (seen.has(inst)) continue;
      seen.add(inst);
      const proc = inst.proc?.alive === true ? inst.proc : undefined;
      const state = inst.retiring ? 'draining' : inst.starting !== undefined ? 'starting' : proc !== undefined ? 'running' : 'restarting';
      out.push({
        deploymentId: inst.deploymentId,
        pid: proc?.pid,
        host: proc?.host,
        port: proc?.port,
        state,
        inFlight: inst.inFlight,
        startedAt: proc?.startedAt,
        lastRequestAt: inst.lastRequestAt,
        pinned: this.pinned.has(inst.deploymentId),
      });
    }
    return out;
  }

  private start(inst: Instance): Promise<ServerProcess> {
    if (inst.starting !== undefined) return inst.starting;
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    this.live.add(inst);
    const starting = (async () => {
      const { proc, agent, box } = await launchServer({
        deploymentId: inst.deploymentId,
        bundle: inst.bundle,
        env: inst.env,
        limits: inst.limits,
        memoryLimitMb: this.memoryLimitOf(inst),
        materialize: (id, bundle) => this.materialize(id, bundle),
        usedPorts: new Set(this.byPort.keys()),
        opts: this.opts,
        log: this.log,
      });
      if (this.closed) {
        agent.destroy();
        await proc.stop();
        await box?.release();
        throw new Error('the runtime is closed');
      }
      inst.proc = proc;
      inst.agent = agent;
      inst.killedFor = undefined;
      this.byPort.set(proc.port, inst);
      void proc.exited.then(async (code) => {
        // a cgroup limit kills without a word: say which one it was
        const limit = await box?.limitHit().catch(() => undefined);
        if (limit !== undefined) inst.killedFor ??= `it ran into ${limit}`;
        this.exited(inst, proc, code);
        // after the exit is known: freeing the groups and the network must not delay a restart or a drain
        await box?.release().catch((err: unknown) => this.log(`${inst.deploymentId}: could not release the server's sandbox`, toError(err)));
      });
      this.log(`${inst.deploymentId}: server started (pid ${proc.pid}, port ${proc.port}) in ${Date.now() - proc.startedAt} ms`);
      return proc;
    })();
    inst.starting = starting;
    starting.then(
      () => {
        inst.starting = undefined;
      },
      (err: unknown) => {
        inst.starting = undefined;
        if (inst.proc === undefined) this.live.delete(inst);
        if (this.active.get(inst.deploymentId) !== inst) return;
        if (this.pinned.has(inst.deploymentId) && inst.crashes > 0) this.scheduleRestart(inst, toError(err));
        else this.active.delete(inst.deploymentId);
      },
    );
    return starting;
  }

  private exited(inst: Instance, proc: ServerProcess, code: string): void {
    if (this.byPort.get(proc.port) === inst) this.byPort.delete(proc.port);
    this.serverGone(inst.deploymentId, proc.port);
    inst.agent?.destroy();
    inst.agent = undefined;
    inst.proc = undefined;
    if (inst.retiring || this.closed) {
      this.live.delete(inst);
      return;
    }
    const ranMs = Date.now() - proc.startedAt;
    const why = inst.killedFor === undefined ? `exited unexpectedly (${code})` : `was killed because ${inst.killedFor}`;
    this.log(`${inst.deploymentId}: server ${why} after ${ranMs} ms; last output:\n${proc.output().slice(-10).join('\n')}`);
    countCrash(inst, ranMs);
    if (this.active.get(inst.deploymentId) === inst && this.pinned.has(inst.deploymentId)) {
      this.scheduleRestart(inst);
    } else {
      // the next ensure starts it again
      this.live.delete(inst);
      if (this.active.get(inst.deploymentId) === inst) this.active.delete(inst.deploymentId);
    }
  }

  private scheduleRestart(inst: Instance, failure?: Error): void {
    const delay = restartDelayMs(inst);
    if (failure !== undefined) this.log(`${inst.deploymentId}: restart failed, trying again in ${delay} ms`, failure);
    inst.crashes += failure === undefined ? 0 : 1;
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      if (this.active.get(inst.deploymentId) === inst && this.pinned.has(inst.deploymentId) && inst.proc === undefined) void this.start(inst).catch(() => undefined);
    }, delay);
    inst.restartTimer.unref();
  }

  private async retire(inst: Instance, graceMs: number): Promise<void> {
    inst.retiring = true;
    if (inst.proc !== undefined) this.serverGone(inst.deploymentId, inst.proc.port);
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    const deadline = Date.now() + graceMs;
    await inst.starting?.catch(() => undefined);
    while (Date.now() < deadline && !this.closed && (inst.inFlight > 0 || Date.now() - inst.lastEnsureAt < SETTLE_MS)) {
      await new Promise((r) => setTimeout(r, Math.min(20, deadline - Date.now())));
    }
    if (inst.inFlight > 0) this.log(`${inst.deploymentId}: ${inst.inFlight} request(s) still in flight after the ${graceMs} ms grace; stopping anyway`);
    await inst.proc?.stop();
    this.live.delete(inst);
  }
}
