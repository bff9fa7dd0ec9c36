import { readdir, readFile } from 'node:fs/promises';

const MiB = 1024 * 1024;
/** non-heap memory a node server needs besides its V8 heap: code, stacks, buffers, native modules */
const MIN_HEADROOM_MB = 96;

/**
 * The resident memory a server's processes may use together before the runtime kills them:
 * its V8 heap limit plus headroom for what lives outside the heap, a quarter of the heap limit
 * and at least 96 MiB. `rssLimitMb(512) === 640`, `rssLimitMb(128) === 224`.
 */
export function rssLimitMb(heapMb: number): number {
  return heapMb + Math.max(MIN_HEADROOM_MB, Math.ceil(heapMb / 4));
}

/**
 * Resident memory (VmRSS) of each root process plus everything below it: its descendants by
 * parent pid (a sandboxed server runs in its own session under bwrap) and the members of its
 * process group (children left behind by a parent that exited). Linux only: elsewhere, and
 * for a root that is gone, the answer is 0.
 *
 * `await treeRss([pid])` -> Map { pid => 73_400_320 }
 */
export async function treeRss(roots: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>(roots.map((r) => [r, 0]));
  if (roots.length === 0 || process.platform !== 'linux') return out;
  const procs = await listProcesses();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list === undefined) children.set(p.ppid, [p.pid]);
    else list.push(p.pid);
  }
  await Promise.all(
    roots.map(async (root) => {
      const members = new Set<number>();
      const queue = [root];
      while (queue.length > 0) {
        const pid = queue.pop()!;
        if (members.has(pid)) continue;
        members.add(pid);
        queue.push(...(children.get(pid) ?? []));
      }
      for (const p of procs) if (p.pgrp === root) members.add(p.pid);
      const sizes = await Promise.all([...members].map(vmRss));
      out.set(
        root,
        sizes.reduce((a, b) => a + b, 0),
      );
    }),
  );
  return out;
}

async function listProcesses(): Promise<{ pid: number; ppid: number; pgrp: number }[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const procs = await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const stat = await readFile(`/proc/${n}/stat`, 'utf8').catch(() => undefined);
        if (stat === undefined) return undefined; // gone since the listing
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return { pid: Number(n), ppid: Number(fields[1]), pgrp: Number(fields[2]) };
      }),
  );
  return procs.filter((p) => p !== undefined);
}

async function vmRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

export const bytesToMb = (bytes: number) => Math.round(bytes / MiB);

/** A server the memory watch looks after: its root pid, its heap limit, and how to kill it. */
export interface WatchedServer {
  pid: number;
  heapMb: number;
  /** called with the reason when its process tree holds more than rssLimitMb(heapMb) */
  kill(why: string): void;
}

/**
 * Every `everyMs`, kill each server whose processes together hold more resident memory than
 * its limit allows (rssLimitMb: the heap limit plus headroom): V8's heap limit does not cover
 * buffers, native memory or child processes. Returns a function that stops the watch.
 */
export function watchMemory(everyMs: number, servers: () => WatchedServer[], log: (message: string, error?: Error) => void): () => void {
  let checking = false;
  const check = async () => {
    const watched = servers();
    if (checking || watched.length === 0) return;
    checking = true;
    try {
      const rss = await treeRss(watched.map((s) => s.pid));
      for (const server of watched) {
        const usedMb = bytesToMb(rss.get(server.pid) ?? 0);
        const limitMb = rssLimitMb(server.heapMb);
        if (usedMb > limitMb) server.kill(`it used ${usedMb} MiB of memory, over its limit of ${limitMb} MiB (${server.heapMb} MiB heap + headroom)`);
      }
    } catch (err) {
      log('checking server memory failed', err instanceof Error ? err : new Error(String(err)));
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
