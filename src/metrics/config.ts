import { AppError } from '../errors/index.js';

/** --metrics-token, --metrics-port, --access-log, --log-keep (see README "Metrics and logs"). */
export interface ObservabilityConfig {
  /** Bearer token GET /metrics needs; undefined: metrics are not served */
  readonly metricsToken: string | undefined;
  /** a separate /metrics listener (worker- or edge-only processes); undefined: none */
  readonly metricsPort: number | undefined;
  /** false: the edge keeps no access log rows (metrics are still counted) */
  readonly accessLog: boolean;
  /** access log entries and server output lines kept per project, each */
  readonly logKeep: number;
}

type Pick = (flag: string, envName: string) => string | undefined;
type Int = (flag: string, envName: string, fallback: number, min: number, max: number, example: string) => number;

export function parseObservabilityConfig(pick: Pick, int: Int): ObservabilityConfig {
  const metricsToken = pick('metrics-token', 'SLIPWAY_METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new AppError('CONFIG', '--metrics-token (SLIPWAY_METRICS_TOKEN) must be at least 16 characters.', { hint: 'For example: SLIPWAY_METRICS_TOKEN=$(openssl rand -hex 24)' });
  }
  const port = pick('metrics-port', 'SLIPWAY_METRICS_PORT');
  const accessLog = (pick('access-log', 'SLIPWAY_ACCESS_LOG') ?? 'on').toLowerCase();
  if (accessLog !== 'on' && accessLog !== 'off') throw new AppError('CONFIG', `--access-log is on or off, got ${JSON.stringify(accessLog)}.`, { hint: 'For example: --access-log off' });
  return Object.freeze({
    metricsToken,
    metricsPort: port === undefined ? undefined : int('metrics-port', 'SLIPWAY_METRICS_PORT', 0, 0, 65535, '--metrics-port 9464'),
    accessLog: accessLog === 'on',
    logKeep: int('log-keep', 'SLIPWAY_LOG_KEEP', 10_000, 100, 10_000_000, '--log-keep 10000'),
  });
}
