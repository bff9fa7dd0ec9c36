import { startSlipway } from '../app.js';
import { loadConfig, type ConfigInput } from '../config/index.js';

/** `slipway up`: run the roles (default all) in this process until SIGTERM/SIGINT. */
export async function up(flags: ConfigInput): Promise<void> {
  const config = loadConfig(flags, process.env);
  const slipway = await startSlipway(config);
  const lines = [`Slipway is up (${config.roles.join(', ')}), data in ${config.dataDir}`];
  if (slipway.apiPort !== undefined) lines.push(`  API and dashboard: http://localhost:${slipway.apiPort}`);
  if (slipway.edgePort !== undefined) lines.push(`  Sites (edge):      http://<project>.${config.baseDomain}:${slipway.edgePort}`);
  if (slipway.httpsPort !== undefined) lines.push(`  Sites (HTTPS):     https://<domain>:${slipway.httpsPort}`);
  if (slipway.apiPort !== undefined) {
    lines.push(
      slipway.adminTokenFile === undefined ? '  Admin token:       from SLIPWAY_ADMIN_TOKEN' : `  Admin token:       ${slipway.adminTokenFile} (send as Authorization: Bearer <token>)`,
    );
  }
  console.log(lines.join('\n'));

  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      console.error(`${signal} again: exiting now; unfinished builds are retried after their lease expires.`);
      process.exit(1);
    }
    console.error(`${signal}: no new builds are claimed; running builds get ${Math.round(config.shutdownGraceMs / 1000)}s to finish, the rest go back to the queue.`);
    slipway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('Shutdown failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
