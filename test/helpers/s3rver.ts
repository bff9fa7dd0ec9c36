import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import { tempDir } from './paths.js';

/** The access key s3rver accepts out of the box; handed to the SDK through its default chain (the environment). */
export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
}

export interface RunningS3 {
  endpoint: string;
  bucket: string;
  port: number;
  /** the folder s3rver keeps objects in (survives stop(), for a restart on the same data) */
  directory: string;
  httpServer: Server;
  /** stop at once: open connections are cut, as when the server goes away */
  kill(): Promise<void>;
  /** stop and remove its folder */
  cleanup(): Promise<void>;
}

/** A real S3-speaking server on a free port with one bucket; `at` restarts one on a kept folder and port. */
export async function startS3rver(at?: { directory: string; port: number }): Promise<RunningS3> {
  const own = at === undefined ? await tempDir('slipway-s3rver-') : undefined;
  const directory = at?.directory ?? (own as { path: string }).path;
  const bucket = 'slipway-test';
  const server = new S3rver({ port: at?.port ?? 0, address: '127.0.0.1', directory, silent: true, configureBuckets: [{ name: bucket }] });
  const address = (await server.run()) as AddressInfo;
  const httpServer = server.httpServer as Server;
  let stopped = false;
  const kill = async () => {
    if (stopped) return;
    stopped = true;
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeAllConnections();
    await closed;
  };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    port: address.port,
    directory,
    httpServer,
    kill,
    cleanup: async () => {
      await kill();
      await own?.cleanup();
    },
  };
}
