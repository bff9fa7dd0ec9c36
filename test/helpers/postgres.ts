import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Store } from '../../src/store/index.js';

const run = promisify(execFile);

/**
 * A real PostgreSQL for the tests: started once per test process from Debian's binaries
 * (initdb into a temp dir, a free port, the socket in that dir), stopped and deleted when the
 * process exits. One template database is migrated once; every `freshPostgres()` clones it
 * (`CREATE DATABASE ... TEMPLATE`, a file copy: milliseconds, no migrations per test).
 *
 * PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user
 * (or `nobody`), which owns the temp dir.
 */

/** The directory holding initdb and pg_ctl, or undefined when PostgreSQL is not installed. */
function findBinDir(): string | undefined {
  const given = process.env.SLIPWAY_PG_BIN;
  // set: that directory or none (SLIPWAY_PG_BIN=none shows what a machine without PostgreSQL does)
  if (given !== undefined && given !== '') return existsSync(join(given, 'initdb')) ? given : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(root, versions[0]!, 'bin');
}

const binDir = findBinDir();

/** Why the PostgreSQL variants skip here, or false when they run. */
export const postgresSkip: string | false = binDir === undefined ? 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; Debian package "postgresql", SLIPWAY_PG_BIN overrides)' : false;

/** The uid/user the server runs as: ourselves, or when we are root an unprivileged system user. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (id.status === 0 && gid.status === 0) return { name, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
}

interface Server {
  dir: string;
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/ (append a database name) */
  base: string;
  template: string;
}

let started: Promise<Server> | undefined;
/** how to stop and start the running server again on its port and data (pausePostgres / resumePostgres) */
let restart: { sh: (cmd: string, args: string[]) => Promise<void>; data: string; opts: string; dir: string } | undefined;
let running: Server | undefined;
let clones = 0;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function start(): Promise<Server> {
  if (binDir === undefined) throw new Error(String(postgresSkip));
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-'));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const as = (cmd: string, args: string[]): [string, string[]] => (user === undefined ? [cmd, args] : ['runuser', ['-u', user.name, '--', cmd, ...args]]);
  const data = join(dir, 'data');
  const sh = async (cmd: string, args: string[]) => {
    const [file, argv] = as(join(binDir, cmd), args);
    await run(file, argv, { timeout: 60_000 });
  };
  running = { dir, port: 0, base: '', template: '' };
  await sh('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  const port = await freePort();
  // durability off: a test server that loses its data on a crash loses nothing. Benchmarks set
  // SLIPWAY_PG_DURABLE=1 to measure with a production server's commit flushes.
  const durability = process.env.SLIPWAY_PG_DURABLE === '1' ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${durability} -c max_connections=200`;
  await sh('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const base = `postgres://postgres@127.0.0.1:${port}/`;
  running = { dir, port, base, template: 'slipway_template' };
  restart = { sh, data, opts, dir };
  await admin(base, `create database slipway_template`);
  const store = await Store.openPostgres(`${base}slipway_template`, { poolSize: 2 });
  await store.close();
  return running;
}

/**
 * Stop the server and delete its files. Synchronous, as it also runs on process exit, and with
 * no helper process (a signal to our process group could kill a `pg_ctl stop` halfway): SIGQUIT
 * to the postmaster is PostgreSQL's immediate shutdown.
 */
function stop(): void {
  const s = running;
  running = undefined;
  started = undefined;
  if (s === undefined) return;
  const pidFile = join(s.dir, 'data', 'postmaster.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : Number.NaN;
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGQUIT');
      const wait = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 500 && alive(pid); i++) Atomics.wait(wait, 0, 0, 20);
    } catch {
      // already gone
    }
  }
  rmSync(s.dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
process.on('exit', stop);
// a test run interrupted (Ctrl-C, a runner's timeout) must not leave a server behind either
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    stop();
    process.kill(process.pid, signal);
  });
}

async function admin(base: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${base}postgres` });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated database of its own (`empty`: not migrated, no tables at all): its URL, and `drop` to remove it (the server itself
 * goes away when the test process exits). Throws when PostgreSQL is missing: check
 * `postgresSkip` first.
 */
export async function freshPostgres(opts: { empty?: boolean } = {}): Promise<{ url: string; drop: () => Promise<void> }> {
  started ??= start().catch((err: unknown) => {
    stop();
    throw err;
  });
  const server = await started;
  const name = `slipway_${process.pid}_${++clones}`;
  await admin(server.base, `create database ${name} template ${opts.empty === true ? 'template0' : server.template}`);
  return {
    url: `${server.base}${name}`,
    drop: async () => {
      if (running === undefined) return;
      await admin(server.base, `drop database if exists ${name} with (force)`);
    },
  };
}

/** Stop the server now (tests may call it in `after`; the exit hook does it otherwise). */
export function stopPostgres(): void {
  stop();
}

/**
 * Stop the running server but keep its data and port, as a database restart does to clients
 * (their connections drop); `resumePostgres` starts it again. For tests of surviving an outage.
 */
export async function pausePostgres(): Promise<void> {
  if (restart === undefined || running === undefined) throw new Error('no PostgreSQL is running (call freshPostgres first)');
  await restart.sh('pg_ctl', ['-D', restart.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
}

export async function resumePostgres(): Promise<void> {
  if (restart === undefined || running === undefined) throw new Error('no PostgreSQL is running (call freshPostgres first)');
  await restart.sh('pg_ctl', ['-D', restart.data, '-o', restart.opts, '-l', join(restart.dir, 'server.log'), '-w', '-t', '60', 'start']);
}
