import type { Db } from '../store/index.js';

const MAX_LINE = 4096;

/** Append build log lines (text and when it was written); numbering continues from the last stored line (1-based). */
export async function appendLogs(db: Db, deploymentId: string, lines: readonly { text: string; at: number }[]): Promise<void> {
  if (lines.length === 0) return;
  const last = await db
    .selectFrom('log_lines')
    .select((eb) => eb.fn.max('n').as('n'))
    .where('deployment_id', '=', deploymentId)
    .executeTakeFirst();
  let n = Number(last?.n ?? 0);
  // SQLite caps bound parameters per statement; insert in slices
  for (let i = 0; i < lines.length; i += 200) {
    const rows = lines.slice(i, i + 200).map(({ text, at }) => ({ deployment_id: deploymentId, n: ++n, at, text: text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text }));
    await db.insertInto('log_lines').values(rows).execute();
  }
}

export async function readLogs(db: Db, deploymentId: string, after: number, limit = 1000): Promise<{ n: number; at: number; text: string }[]> {
  const rows = await db.selectFrom('log_lines').select(['n', 'at', 'text']).where('deployment_id', '=', deploymentId).where('n', '>', after).orderBy('n').limit(limit).execute();
  return rows.map((r) => ({ n: Number(r.n), at: Number(r.at), text: r.text }));
}

/** The last `count` lines, oldest first. */
export async function tailLogs(db: Db, deploymentId: string, count: number): Promise<string[]> {
  const rows = await db.selectFrom('log_lines').select('text').where('deployment_id', '=', deploymentId).orderBy('n', 'desc').limit(count).execute();
  return rows.map((r) => r.text).reverse();
}
