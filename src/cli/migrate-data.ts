import { join } from 'node:path';
import { formatBytes } from '../build/cache-util.js';
import { loadConfig } from '../config/index.js';
import { AppError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { Command } from './command.js';

/** The store drivers, the S3 client and the copiers, loaded when the command runs (not for `--help`). */
async function copiers() {
  const [{ Store }, { copyStore }, { copyBlobs }, { LocalBlobStore }, { S3BlobStore }, { parseS3Url }] = await Promise.all([
    import('../store/index.js'),
    import('../store/copy.js'),
    import('../blobs/copy.js'),
    import('../blobs/local.js'),
    import('../blobs/s3.js'),
    import('../blobs/s3-url.js'),
  ]);
  return { Store, copyStore, copyBlobs, LocalBlobStore, S3BlobStore, parseS3Url };
}

/**
 * `slipway migrate-data`: move an installation from one machine's SQLite file and blob folder
 * to PostgreSQL and an S3 bucket, so the same data serves api, worker and edge processes on
 * many machines. The source stays as it was (a way back); the target must be new.
 */
export const migrateDataCommand: Command = {
  summary: 'Copy this data dir (SQLite + blobs) into PostgreSQL and an S3 bucket, for scale-out',
  usage: ['slipway migrate-data --database-url postgres://user:pass@host:5432/db [--blob-url s3://bucket/prefix?region=...] [--data-dir .slipway]'],
  options: { 'database-url': { type: 'string' }, 'blob-url': { type: 'string' } },
  flags: [
    '--database-url URL  the new, empty PostgreSQL database (SLIPWAY_DATABASE_URL); migrated before the copy',
    '--blob-url URL      the S3 bucket (and prefix) for the blobs (SLIPWAY_BLOB_URL); without it only the database is copied',
    'Stop Slipway first: the copy reads one snapshot, and writes made after it would not be in the target.',
    'Then copy <data-dir>/secret.key to every machine (--secret-key-file): the secrets in the database are encrypted under it.',
  ],
  examples: [
    'slipway migrate-data --database-url postgres://slipway@db:5432/slipway --blob-url "s3://sites/slipway/?region=eu-west-1"',
    'SLIPWAY_DATABASE_URL=postgres://slipway@db/slipway slipway migrate-data   # database only; blobs stay in the folder',
  ],
  run: async (ctx) => {
    if (ctx.positionals.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(ctx.positionals[0])}.`);
    const config = loadConfig(
      { 'data-dir': ctx.values['data-dir'] as string | undefined, 'database-url': ctx.values['database-url'] as string | undefined, 'blob-url': ctx.values['blob-url'] as string | undefined },
      process.env,
    );
    if (config.databaseUrl === undefined) throw ctx.usage('Name the PostgreSQL database to copy into with --database-url (or SLIPWAY_DATABASE_URL).');
    const { out } = ctx;
    const { Store, copyStore, copyBlobs, LocalBlobStore, S3BlobStore, parseS3Url } = await copiers();
    const from = await Store.openSqlite(join(config.dataDir, 'slipway.db'));
    let to: Store | undefined;
    try {
      to = await Store.openPostgres(config.databaseUrl, { poolSize: 2 });
      out.note(`Copying ${join(config.dataDir, 'slipway.db')} into PostgreSQL...`);
      const tables = await copyStore(from, to, (t) => out.note(`  ${t.table}: ${t.rows} rows`));
      let blobs: Awaited<ReturnType<typeof copyBlobs>> | undefined;
      if (config.blobUrl !== undefined) {
        const source = new LocalBlobStore(join(config.dataDir, 'blobs'));
        out.note(`Copying the blobs of ${source.root} into ${config.blobUrl}...`);
        let count = 0;
        blobs = await copyBlobs(source, new S3BlobStore(parseS3Url(config.blobUrl)), {
          onBlob: () => {
            count += 1;
            if (count % 500 === 0) out.note(`  ${count} blobs...`);
          },
        });
        if (blobs.damaged.length > 0) {
          throw new AppError(
            'BLOBS_DAMAGED',
            `${blobs.damaged.length} blobs in ${source.root} no longer match their hashes and were not copied: ${blobs.damaged.slice(0, 5).join(', ')}${blobs.damaged.length > 5 ? ', ...' : ''}`,
            {
              hint: 'Redeploy the deployments that use them (or restore the files from a backup), then run migrate-data again into a new database: it sends only the blobs the bucket lacks.',
            },
          );
        }
      }
      out.result({ tables, blobs }, () => {
        out.line(`Copied ${tables.reduce((n, t) => n + t.rows, 0)} rows in ${tables.length} tables.`);
        if (blobs !== undefined) out.line(`Copied ${blobs.blobs} blobs (${formatBytes(blobs.bytes)}); ${blobs.skipped} were already in the bucket.`);
        out.line('Next: copy secret.key to every machine and start each with --database-url (and --blob-url); see docs/scale-out.md.');
      });
    } finally {
      await from.close();
      await to?.close();
    }
  },
};
