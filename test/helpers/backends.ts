import { join } from 'node:path';
import { describe } from 'node:test';
import { Store } from '../../src/store/index.js';
import { tempDir } from './paths.js';
import { freshPostgres, postgresSkip } from './postgres.js';

/** A store opened for a test: `another()` is a second connection to the same database, as another process would hold. */
export interface OpenedStore {
  store: Store;
  /** PostgreSQL: the database's URL */
  url?: string;
  another(): Promise<Store>;
  /** closes every store opened here and removes the database */
  cleanup(): Promise<void>;
}

/** A store backend the contract suites run against. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** a fresh store of this backend, migrated and empty (`empty`: not even migrated) */
  open(opts?: { empty?: boolean }): Promise<OpenedStore>;
}

function opened(first: Store, reopen: () => Promise<Store>, remove: () => Promise<void>): OpenedStore {
  const stores = [first];
  return {
    store: first,
    another: async () => {
      const s = await reopen();
      stores.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of stores) await s.close();
      await remove();
    },
  };
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  async open(opts = {}) {
    const dir = await tempDir('slipway-store-');
    const file = join(dir.path, 'slipway.db');
    const store = await Store.openSqlite(file, { migrate: opts.empty !== true });
    return opened(store, () => Store.openSqlite(file, { migrate: false }), dir.cleanup);
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  async open(opts = {}) {
    const database = await freshPostgres({ empty: opts.empty === true });
    // a clone is already migrated (the template was); migrating again must find nothing to do
    const store = await Store.openPostgres(database.url, { poolSize: 10, migrate: opts.empty !== true });
    return { ...opened(store, () => Store.openPostgres(database.url, { poolSize: 10, migrate: false }), database.drop), url: database.url };
  },
};

/**
 * Run the suite `fn` once per backend, as `<name> [sqlite]` and `<name> [postgres]`. Where
 * PostgreSQL is not installed, its variant is reported as skipped with the reason. `fn`
 * declares its own before/after hooks and tests inside the suite.
 */
export function forEachBackend(name: string, fn: (backend: Backend) => void): void {
  describe(`${name} [sqlite]`, () => fn(sqliteBackend));
  if (postgresSkip !== false) console.log(`${name} [postgres] skipped: ${postgresSkip}`);
  describe(`${name} [postgres]`, { skip: postgresSkip }, () => fn(postgresBackend));
}
