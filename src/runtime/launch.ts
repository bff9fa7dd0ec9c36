import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import type { ServerBundle } from '../manifest/index.js';
import type { Sandbox } from '../sandbox/index.js';
import type { MaterializedBundle } from './bundles.js';
import type { RuntimeOptions, ServerLimitOverrides } from './options.js';
import { ServerProcess, ServerStartError } from './server-process.js';
import { openServerSandbox, serverNode } from './server-sandbox.js';

export interface LaunchRequest {
  deploymentId: string;
  bundle: ServerBundle;
  env: Record<string, string>;
  limits: ServerLimitOverrides;
  memoryLimitMb: number | undefined;
  materialize: (deploymentId: string, bundle: ServerBundle) => Promise<MaterializedBundle>;
  /** ports other servers here hold: never chosen again */
  usedPorts: ReadonlySet<number>;
  opts: RuntimeOptions & { startTimeoutMs: number };
  log: (message: string) => void;
}

/**
 * Start one server process for a deployment and wait until it answers HTTP: its bundle written
 * out and checked, its Node.js fetched if the bundle names one, its sandbox opened. On failure
 * everything it opened is released again. The caller owns the process, agent and sandbox.
 */
export async function launchServer(req: LaunchRequest): Promise<{ proc: ServerProcess; agent: Agent; box: Sandbox | undefined }> {
  const { deploymentId, opts } = req;
  const bundleDir = await req.materialize(deploymentId, req.bundle);
  const node = await serverNode(req.bundle.node?.version, opts.nodeCacheDir ?? join(dirname(opts.dir), 'node'), (line) => req.log(`${deploymentId}: ${line}`));
  const box = opts.sandbox === undefined ? undefined : await openServerSandbox(opts.sandbox, bundleDir, node?.dir, req.memoryLimitMb, req.limits);
  const agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
  const spawnOpts = {
    agent,
    deploymentId,
    cwd: bundleDir.dir,
    entry: req.bundle.entry,
    args: req.bundle.args,
    env: req.env,
    memoryLimitMb: req.memoryLimitMb,
    startTimeoutMs: opts.startTimeoutMs,
    onOutput: opts.onOutput === undefined ? undefined : (line: string) => opts.onOutput?.(deploymentId, line),
    node: node?.bin,
    wrap: box?.prefix,
    listenHost: box?.listenHost,
    host: box?.address,
    usedPorts: new Set(req.usedPorts),
  };
  try {
    const proc = await ServerProcess.start(spawnOpts).catch((err: unknown) => {
      // the free port was taken between choosing and binding it: choose again, once
      if (err instanceof ServerStartError && err.output.some((l) => l.includes('EADDRINUSE'))) return ServerProcess.start(spawnOpts);
      throw err;
    });
    return { proc, agent, box };
  } catch (err) {
    agent.destroy();
    await box?.release();
    throw err;
  }
}
