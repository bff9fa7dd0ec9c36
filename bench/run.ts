/**
 * `npm run bench [-- name ...]`: runs the benchmarks (all, or the named ones) one after another
 * and prints one table each. Every figure is a ratio against a reference measured in the same
 * run, because this machine is shared and absolute times drift.
 */
type Bench = () => Promise<{ title: string; rows: Record<string, string | number | undefined>[]; notes: string[] }>;

const BENCHES: Record<string, () => Promise<Bench>> = {
  'push-to-live': async () => (await import('./push-to-live.js')).run,
  rollback: async () => (await import('./rollback.js')).run,
  static: async () => (await import('./static.js')).run,
  'build-cache': async () => (await import('./build-cache.js')).run,
  ssr: async () => (await import('./ssr.js')).run,
  moves: async () => (await import('./moves.js')).run,
  sandbox: async () => (await import('./sandbox.js')).run,
  'node-fetch': async () => (await import('./node-fetch.js')).run,
  https: async () => (await import('./https.js')).run,
  rules: async () => (await import('./rules.js')).run,
  dashboard: async () => (await import('./dashboard.js')).run,
  githost: async () => (await import('./githost.js')).run,
  api: async () => (await import('./api.js')).run,
  previews: async () => (await import('./previews.js')).run,
  queue: async () => (await import('./queue.js')).run,
  'build-throughput': async () => (await import('./build-throughput.js')).run,
  opennext: async () => (await import('./opennext.js')).run,
  's3-edge': async () => (await import('./s3-edge.js')).run,
  gc: async () => (await import('./gc.js')).run,
  propagation: async () => (await import('./propagation.js')).run,
  'access-log': async () => (await import('./access-log.js')).run,
  aws: async () => (await import('./aws.js')).run,
};

function printTable(rows: Record<string, string | number | undefined>[]): void {
  if (rows.length === 0) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(width[i]!)).join(' | ')} |`;
  console.log(line(cols));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}.`);
  process.exit(2);
}
let failed = false;
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  try {
    const result = await (await BENCHES[name]!())();
    console.log(`\n## ${result.title}\n`);
    printTable(result.rows);
    for (const note of result.notes) console.log(`- ${note}`);
  } catch (err) {
    failed = true;
    console.error(`\n## ${name}: failed\n`, err);
  }
}
process.exit(failed ? 1 : 0);
