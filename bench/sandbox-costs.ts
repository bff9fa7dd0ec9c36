/**
 * The sandbox's fixed costs, to read the build ratios by (part of ./sandbox.ts): what a build
 * pays once (its network namespace, cgroups and size-capped folder) and what every command pays
 * (nsenter, setpriv, bwrap and the minimal root), against running `true` directly. A short
 * build's ratio is mostly these; a long one's is what the sandbox costs while the work runs.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createWorkspace, openSandbox } from '../src/sandbox/index.js';
import type { Row } from './sandbox-servers.js';
import { median } from './stats.js';

const RUNS = 5;

export async function measureFixedCosts(dir: string, loop: boolean): Promise<Row[]> {
  const cwd = join(dir, 'fixed-costs');
  await mkdir(cwd, { recursive: true });
  const open: number[] = [];
  const folder: number[] = [];
  const direct: number[] = [];
  const boxed: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const workspace = await createWorkspace(join(dir, `fixed-folder-${i}`), 20_480 * 1024 * 1024, loop);
    await workspace.release();
    folder.push(performance.now() - t);

    t = performance.now();
    const box = await openSandbox({ cwd, writable: [cwd], tmpMb: 1024, limits: { memoryMb: 4096, pids: 4096, cpuShares: 512 }, network: { allow: [] } });
    if (box === undefined) throw new Error('openSandbox gave no sandbox');
    const opened = performance.now() - t;
    try {
      t = performance.now();
      await exec(['true']);
      direct.push(performance.now() - t);
      t = performance.now();
      await exec([...box.prefix, 'true']);
      boxed.push(performance.now() - t);
    } finally {
      t = performance.now();
      await box.release();
      open.push(opened + performance.now() - t);
    }
  }
  const cell = (values: number[]) => ({ sandboxed: Math.round(median(values)), rounds: values.map((v) => Math.round(v)).join(', ') });
  return [
    { measure: `fixed: a build's sandbox opened and released (network namespace, cgroups), ms (median of ${RUNS})`, 'no sandbox': 0, ...cell(open) },
    ...(loop ? [{ measure: 'fixed: a build folder made and removed (ext4 on a loop device), ms', 'no sandbox': 0, ...cell(folder) }] : []),
    {
      measure: 'per command: `true` through the sandbox, ms',
      'no sandbox': Math.round(median(direct)),
      ...cell(boxed),
      rounds: boxed.map((v, i) => `${Math.round(direct[i]!)}/${Math.round(v)}`).join(', '),
    },
  ];
}

function exec(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 30_000 }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(`${argv.join(' ')}: ${stderr.trim() || err.message}`))));
  });
}
