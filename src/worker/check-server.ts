import { join } from 'node:path';
import type { DeploymentServerSettings } from '../deployments/index.js';
import { AppError } from '../errors/index.js';
import type { ServerBundle } from '../manifest/index.js';
import { discardBundle, Runtime } from '../runtime/index.js';
import type { JobDeps } from './run-job.js';

/**
 * Start the built server once, as the edge will, and wait for it to answer: a server that
 * crashes or never listens fails the deployment here, with its output, and no alias moves.
 */
export async function checkServer(deps: JobDeps, deploymentId: string, bundle: ServerBundle, settings: DeploymentServerSettings, log: (line: string) => void, signal: AbortSignal): Promise<void> {
  const dir = join(deps.config.dataDir, 'runtime');
  // this attempt's bundle, not one an earlier attempt of the deployment left there: a retried
  // build packages its own output, and builds (Next.js's among them) are not byte for byte the same twice
  await discardBundle(dir, deploymentId);
  const runtime = new Runtime({
    blobs: deps.blobs,
    dir,
    nodeCacheDir: deps.config.nodeCacheDir,
    startTimeoutMs: 60_000,
    log: () => {},
    sandbox: { hidden: [deps.config.dataDir], pids: deps.config.sandbox.serverPids, tmpMb: deps.config.sandbox.tmpMb, allow: deps.config.sandbox.allow },
  });
  const started = Date.now();
  log('Starting the server once to check that it answers');
  try {
    signal.throwIfAborted();
    await runtime.ensure(deploymentId, bundle, settings.env, { memoryLimitMb: settings.memoryMb ?? (deps.config.serverMemoryMb || undefined), pids: settings.pids, cpuShares: settings.cpuShares });
    log(`The server answered in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } catch (err) {
    if (signal.aborted) throw err;
    const output = (err as { output?: string[] }).output ?? [];
    for (const line of output.slice(-30)) log(`  server: ${line}`);
    // ServerStartError's message carries the server's last output lines
    throw new AppError('SERVER_UNHEALTHY', `The server did not answer its health check: ${(err as Error).message}`, { cause: err });
  } finally {
    await runtime.close();
  }
}
