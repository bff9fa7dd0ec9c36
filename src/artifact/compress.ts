import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Smaller files gain too little to be worth a second request path. */
export const MIN_COMPRESS_SIZE = 1024;
/** Compression reads the file into memory; past this size it is skipped. */
export const MAX_COMPRESS_SIZE = 64 * 1024 * 1024;
/** Brotli's best quality is slow (~1 MB/s); files above this get a faster level. */
const BROTLI_MAX_QUALITY_SIZE = 1024 * 1024;
/** Keep a variant only when it saves at least this fraction of the raw size. */
const MIN_SAVING = 0.1;

/**
 * gzip (level 9) and brotli variants of `data`, each present only when meaningfully smaller.
 * Done once per deployment, so the edge never compresses on the fly.
 */
export async function compressVariants(data: Buffer, text: boolean): Promise<{ gzip?: Buffer; br?: Buffer }> {
  const [gz, br] = await Promise.all([
    gzipAsync(data, { level: 9 }),
    brotliAsync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: data.length < BROTLI_MAX_QUALITY_SIZE ? 11 : 6,
        [constants.BROTLI_PARAM_MODE]: text ? constants.BROTLI_MODE_TEXT : constants.BROTLI_MODE_GENERIC,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  ]);
  const limit = data.length * (1 - MIN_SAVING);
  return { ...(gz.length <= limit ? { gzip: gz } : {}), ...(br.length <= limit ? { br } : {}) };
}
