import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import { prettyLine } from '../../src/log/index.js';
import { repoRoot } from '../helpers/paths.js';

test('the metrics and access log flags: defaults, and a bad value stops the start with an example', () => {
  const defaults = loadConfig({}, {}).observability;
  assert.deepEqual({ ...defaults }, { metricsToken: undefined, metricsPort: undefined, accessLog: true, logKeep: 10_000 });
  const set = loadConfig({ 'metrics-port': '9464', 'access-log': 'off', 'log-keep': '500' }, { SLIPWAY_METRICS_TOKEN: 'a-long-enough-metrics-token' }).observability;
  assert.deepEqual({ ...set }, { metricsToken: 'a-long-enough-metrics-token', metricsPort: 9464, accessLog: false, logKeep: 500 });
  for (const [flags, message] of [
    [{ 'metrics-token': 'short' }, /at least 16 characters/],
    [{ 'access-log': 'sometimes' }, /--access-log is on or off/],
    [{ 'log-keep': '5' }, /--log-keep .* from 100/],
    [{ 'metrics-port': 'x' }, /--metrics-port/],
  ] as const) {
    assert.throws(
      () => loadConfig(flags, {}),
      (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && message.test(err.message) && /For example/.test(err.hint ?? ''),
    );
  }
});

test("Slipway's own log is one JSON object a line when stderr is not a terminal", () => {
  const script = `import { logger } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'log', 'index.js'))}; logger('worker').error({ err: new Error('disk full'), jobId: 7 }, 'job crashed');`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  assert.equal(run.status, 0, run.stderr);
  const line = JSON.parse(run.stderr.trim()) as Record<string, any>;
  assert.equal(line.component, 'worker');
  assert.equal(line.msg, 'job crashed');
  assert.equal(line.level, 50);
  assert.equal(line.jobId, 7);
  assert.match(line.err.stack, /Error: disk full/);
  assert.match(line.time, /^\d{4}-\d\d-\d\dT/);
  // on a terminal the same record reads as one line, the stack below it
  assert.match(prettyLine(run.stderr.trim()), /^\d\d:\d\d:\d\d ERROR \[worker\] job crashed jobId=7\n {2}Error: disk full/);
});
