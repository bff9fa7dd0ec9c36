import cluster, { type Worker } from 'node:cluster';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { toError } from '../errors/index.js';
import type { ServerBundle } from '../manifest/index.js';
import { proxyHttp, proxyUpgrade, sendErrorPage, type LocalGateway, type ProxyOptions, type Runtime } from '../runtime/index.js';
import type { ServerGateway } from './types.js';
import { logger } from '../log/index.js';

const ipcLog = logger('edge-runtime');

/*
 * One runtime per edge node: the cluster primary runs every SSR server (serveRuntime), the edge
 * workers ask it for a deployment's port over the cluster IPC channel and proxy to that port
 * themselves (createRemoteGateway). Every message carries `rt`; node:cluster's own messages on
 * the same channel do not, and are left alone.
 */

/** worker -> primary */
type ToPrimary =
  | { rt: 'ensure'; seq: number; deploymentId: string; bundle: ServerBundle }
  | { rt: 'pin'; deploymentIds: string[] }
  /** this worker no longer uses the deployment (its requests to it have finished) */
  | { rt: 'release'; deploymentId: string; graceMs: number }
  /** deployments this worker proxied requests to lately: they are not idle */
  | { rt: 'active'; deploymentIds: string[] };

/** primary -> worker */
type ToWorker =
  | { rt: 'ensured'; seq: number; host: string; port: number; requestTimeoutMs: number; idleMs: number }
  | { rt: 'ensured'; seq: number; error: string }
  /** the port no longer belongs to the deployment's server (stopped, restarting, crashed) */
  | { rt: 'gone'; deploymentId: string; port: number };

function isRuntimeMessage(message: unknown): message is { rt: string } {
  return typeof message === 'object' && message !== null && typeof (message as { rt?: unknown }).rt === 'string';
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200;
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 100_000 && v.every(isString);

/** how long a release without a graceMs of its own lets the server finish (a dead worker's) */
const DEFAULT_GRACE_MS = 30_000;

/**
 * In the cluster primary: answer the edge workers' runtime messages with the node's one
 * runtime. A server starts once whatever the number of workers; pins are the union of the
 * workers' pins; a deployment is drained only when every worker that ensured it has released
 * it (or exited). Workers hear when a server's port goes away. Returns the unsubscribe.
 *
 * ```ts
 * const { gateway, runtime } = createRuntimeGateway(blobs, dataDir, limits, settingsFor);
 * const served = serveRuntime(gateway, runtime, limits.idleMs);
 * const edge = await startEdgeCluster({ ... });
 * // on close: await edge.close(); served.close(); await runtime.close();
 * ```
 */
export function serveRuntime(
  gateway: LocalGateway,
  runtime: Runtime,
  idleMs: number,
  log: (message: string, error?: Error) => void = (m, e) => ipcLog.error(e === undefined ? {} : { err: e }, m),
): { close(): void } {
  /** deployment -> ids of the workers that ensured it and have not released it */
  const holders = new Map<string, Set<number>>();
  const pins = new Map<number, Set<string>>();

  const send = (worker: Worker, message: ToWorker): void => {
    if (!worker.isConnected()) return;
    try {
      worker.send(message, (err: Error | null) => {
        if (err !== null) log(`could not reach edge worker ${worker.process.pid ?? '?'}`, err);
      });
    } catch (err) {
      log(`could not reach edge worker ${worker.process.pid ?? '?'}`, toError(err));
    }
  };
  const pinned = (): Set<string> => {
    const all = new Set<string>();
    for (const ids of pins.values()) for (const id of ids) all.add(id);
    return all;
  };
  const releaseFrom = (workerId: number, deploymentId: string, graceMs: number): void => {
    const held = holders.get(deploymentId);
    held?.delete(workerId);
    if ((held?.size ?? 0) > 0 || pinned().has(deploymentId)) return;
    holders.delete(deploymentId);
    gateway.drain(deploymentId, graceMs).catch((err: unknown) => log(`draining ${deploymentId} failed`, toError(err)));
  };

  /**
   * Drain what every worker released while some worker still pinned it, once no worker pins it
   * any more: e.g. a worker that started before an alias move pinned the old deployment when the
   * others released it, and pins the new one a poll later.
   */
  const drainUnheld = (): void => {
    const all = pinned();
    for (const [deploymentId, held] of [...holders]) {
      if (held.size > 0 || all.has(deploymentId)) continue;
      holders.delete(deploymentId);
      gateway.drain(deploymentId, DEFAULT_GRACE_MS).catch((err: unknown) => log(`draining ${deploymentId} failed`, toError(err)));
    }
  };

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isRuntimeMessage(message)) return;
    const m = message as Partial<Record<string, unknown>>;
    try {
      switch (m.rt) {
        case 'ensure': {
          const seq = m.seq;
          if (typeof seq !== 'number' || !isString(m.deploymentId) || typeof m.bundle !== 'object' || m.bundle === null) return;
          const deploymentId = m.deploymentId;
          let held = holders.get(deploymentId);
          if (held === undefined) holders.set(deploymentId, (held = new Set()));
          held.add(worker.id);
          gateway.ensure(deploymentId, m.bundle as ServerBundle).then(
            ({ host, port, requestTimeoutMs }) => send(worker, { rt: 'ensured', seq, host, port, requestTimeoutMs, idleMs }),
            (err: unknown) => send(worker, { rt: 'ensured', seq, error: toError(err).message }),
          );
          return;
        }
        case 'pin':
          if (!isStringList(m.deploymentIds)) return;
          pins.set(worker.id, new Set(m.deploymentIds));
          gateway.pin(pinned());
          drainUnheld();
          return;
        case 'release':
          if (!isString(m.deploymentId)) return;
          releaseFrom(worker.id, m.deploymentId, typeof m.graceMs === 'number' && m.graceMs >= 0 ? m.graceMs : DEFAULT_GRACE_MS);
          return;
        case 'active':
          if (isStringList(m.deploymentIds)) runtime.touch(m.deploymentIds);
          return;
        default:
      }
    } catch (err) {
      log('handling an edge worker message failed', toError(err));
    }
  };

  // a worker that died (the cluster replaces it) holds nothing and pins nothing any more
  const onExit = (worker: Worker): void => {
    const hadPins = pins.delete(worker.id);
    if (hadPins) gateway.pin(pinned());
    if (hadPins) drainUnheld();
    for (const [deploymentId, held] of [...holders]) if (held.has(worker.id)) releaseFrom(worker.id, deploymentId, DEFAULT_GRACE_MS);
  };

  const stopListening = runtime.onServerGone((deploymentId, port) => {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker !== undefined) send(worker, { rt: 'gone', deploymentId, port });
  });
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  return {
    close() {
      stopListening();
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
    },
  };
}

/** A port ensure handed out, with what proxying to it needs. */
class RemoteTarget {
  constructor(
    readonly deploymentId: string,
    readonly host: string,
    readonly port: number,
    readonly requestTimeoutMs: number,
    readonly agent: Agent,
  ) {}
}

interface CachedServer {
  target: RemoteTarget;
  /** when the primary last counted a request to it (an ensure, or an activity report) */
  confirmedAt: number;
  /** the cached port is used without asking while confirmedAt is this recent: half the idle time */
  freshMs: number;
}

/** how often a worker reports the deployments it proxied to */
const ACTIVITY_EVERY_MS = 1000;
/** after an ensure, how long a drain still expects the matching proxy call */
const SETTLE_MS = 100;
/** an ensure the primary has not answered in this long fails (its own start timeout is 30 s) */
const ENSURE_TIMEOUT_MS = 120_000;

/**
 * In an edge worker: the ServerGateway backed by the primary's runtime (see serveRuntime).
 * Requests go straight to the server's loopback port, cached here, so a request costs no IPC
 * round trip; the cache is dropped when the primary says the port is gone, and not trusted
 * once the primary may have counted the server idle (then ensure asks again).
 */
export function createRemoteGateway(): ServerGateway & { close(): void } {
  let seq = 0;
  const waiting = new Map<number, { resolve: (reply: { host: string; port: number; requestTimeoutMs: number; idleMs: number }) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  const cached = new Map<string, CachedServer>();
  const asking = new Map<string, Promise<RemoteTarget>>();
  const inFlight = new Map<string, number>();
  const lastEnsureAt = new Map<string, number>();
  const draining = new Map<string, Promise<void>>();
  let touched = new Set<string>();
  let closed = false;

  const send = (message: ToPrimary): Promise<void> =>
    new Promise((resolve, reject) => {
      if (closed || process.send === undefined || !process.connected) {
        reject(new Error('the edge worker is not connected to the primary'));
        return;
      }
      try {
        process.send(message, undefined, {}, (err: Error | null) => (err === null ? resolve() : reject(err)));
      } catch (err) {
        reject(toError(err));
      }
    });
  const tell = (message: ToPrimary): void => {
    send(message).catch(() => undefined); // the primary is gone: this worker is stopping anyway
  };

  const onMessage = (message: unknown): void => {
    if (!isRuntimeMessage(message)) return;
    const m = message as ToWorker;
    if (m.rt === 'ensured') {
      const pending = waiting.get(m.seq);
      if (pending === undefined) return;
      waiting.delete(m.seq);
      clearTimeout(pending.timer);
      if ('error' in m) pending.reject(new Error(m.error));
      else pending.resolve(m);
    } else if (m.rt === 'gone') {
      const entry = cached.get(m.deploymentId);
      if (entry?.target.port === m.port) cached.delete(m.deploymentId);
    }
  };
  process.on('message', onMessage);

  const ask = (deploymentId: string, bundle: ServerBundle): Promise<RemoteTarget> => {
    let pending = asking.get(deploymentId);
    if (pending !== undefined) return pending;
    const n = ++seq;
    // the primary counts the request when the ensure arrives, not when the server answers
    const askedAt = Date.now();
    pending = new Promise<{ host: string; port: number; requestTimeoutMs: number; idleMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(n);
        reject(new Error(`the edge primary did not answer for ${deploymentId} within ${ENSURE_TIMEOUT_MS} ms`));
      }, ENSURE_TIMEOUT_MS);
      waiting.set(n, { resolve, reject, timer });
      send({ rt: 'ensure', seq: n, deploymentId, bundle }).catch((err: unknown) => {
        waiting.delete(n);
        clearTimeout(timer);
        reject(toError(err));
      });
    }).then((reply) => {
      // a drain that began meanwhile releases the server: do not keep its port for later requests
      if (draining.has(deploymentId)) return new RemoteTarget(deploymentId, reply.host, reply.port, reply.requestTimeoutMs, new Agent({ keepAlive: false }));
      const previous = cached.get(deploymentId)?.target;
      const target =
        previous?.port === reply.port && previous.host === reply.host
          ? previous
          : new RemoteTarget(deploymentId, reply.host, reply.port, reply.requestTimeoutMs, new Agent({ keepAlive: true, scheduling: 'lifo' }));
      cached.set(deploymentId, { target, confirmedAt: askedAt, freshMs: reply.idleMs / 2 });
      return target;
    });
    asking.set(deploymentId, pending);
    const done = pending;
    const forget = () => asking.get(deploymentId) === done && asking.delete(deploymentId);
    done.then(forget, forget);
    return pending;
  };

  // what keeps the primary from counting our servers idle: requests since the last report, and
  // those still in flight (streams, WebSockets)
  const reporter = setInterval(() => {
    for (const [id, n] of inFlight) if (n > 0) touched.add(id);
    if (touched.size === 0) return;
    const ids = [...touched];
    touched = new Set();
    const now = Date.now();
    for (const id of ids) {
      const entry = cached.get(id);
      if (entry !== undefined) entry.confirmedAt = now;
    }
    tell({ rt: 'active', deploymentIds: ids });
  }, ACTIVITY_EVERY_MS);
  reporter.unref();

  const begin = (deploymentId: string): void => {
    inFlight.set(deploymentId, (inFlight.get(deploymentId) ?? 0) + 1);
    touched.add(deploymentId);
  };
  const end = (deploymentId: string): void => {
    const n = (inFlight.get(deploymentId) ?? 1) - 1;
    if (n > 0) inFlight.set(deploymentId, n);
    else inFlight.delete(deploymentId);
    touched.add(deploymentId);
  };

  const ensure = (deploymentId: string, bundle: ServerBundle): Promise<{ port: number }> => {
    // a new use after a drain began waits for the release, so the primary starts a fresh server
    const drain = draining.get(deploymentId);
    if (drain !== undefined) return drain.then(() => ensure(deploymentId, bundle));
    const now = Date.now();
    lastEnsureAt.set(deploymentId, now);
    const entry = cached.get(deploymentId);
    if (entry !== undefined && now - entry.confirmedAt < entry.freshMs) {
      touched.add(deploymentId);
      return Promise.resolve(entry.target);
    }
    return ask(deploymentId, bundle);
  };

  return {
    ensure,

    async proxy(req: IncomingMessage, res: ServerResponse, deploymentId: string, target: { port: number }, opts: ProxyOptions): Promise<void> {
      if (!(target instanceof RemoteTarget) || target.deploymentId !== deploymentId) {
        sendErrorPage(res, 502);
        return;
      }
      begin(deploymentId);
      try {
        await proxyHttp(req, res, { host: target.host, port: target.port, agent: target.agent, requestTimeoutMs: target.requestTimeoutMs }, opts);
      } finally {
        end(deploymentId);
      }
    },

    async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deploymentId: string, target: { port: number }, opts: ProxyOptions): Promise<void> {
      if (!(target instanceof RemoteTarget) || target.deploymentId !== deploymentId) {
        socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      begin(deploymentId);
      try {
        await proxyUpgrade(req, socket, head, { host: target.host, port: target.port }, opts);
      } finally {
        end(deploymentId);
      }
    },

    pin(deploymentIds: Set<string>): void {
      tell({ rt: 'pin', deploymentIds: [...deploymentIds] });
    },

    /** Wait for this worker's requests to the deployment (up to graceMs), then release it to the primary. */
    drain(deploymentId: string, graceMs: number): Promise<void> {
      let pending = draining.get(deploymentId);
      if (pending !== undefined) return pending;
      cached.delete(deploymentId);
      pending = (async () => {
        const deadline = Date.now() + graceMs;
        const busy = () => (inFlight.get(deploymentId) ?? 0) > 0 || Date.now() - (lastEnsureAt.get(deploymentId) ?? 0) < SETTLE_MS || asking.has(deploymentId);
        while (busy() && Date.now() < deadline && !closed) await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, deadline - Date.now()))));
        lastEnsureAt.delete(deploymentId);
        // the primary waits for other workers; its own drain needs only a short grace
        tell({ rt: 'release', deploymentId, graceMs });
      })();
      draining.set(deploymentId, pending);
      const done = pending;
      void done.finally(() => draining.get(deploymentId) === done && draining.delete(deploymentId));
      return pending;
    },

    close(): void {
      closed = true;
      clearInterval(reporter);
      process.off('message', onMessage);
      for (const [n, pending] of waiting) {
        clearTimeout(pending.timer);
        pending.reject(new Error('the edge worker is closing'));
        waiting.delete(n);
      }
      for (const entry of cached.values()) entry.target.agent.destroy();
      cached.clear();
    },
  };
}
