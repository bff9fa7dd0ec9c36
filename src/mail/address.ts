import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/index.js';

const LOCAL_PREFIX = 'deploy+';

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `deploy+<project>.<token>@<domain>` */
export function formatAddress(projectName: string, token: string, domain: string): string {
  return `${LOCAL_PREFIX}${projectName}.${token}@${domain}`;
}

/**
 * Make (or replace) a project's secret address; the token is returned once and only its hash
 * kept, so the database alone cannot deploy. 20 characters of [a-z0-9]: ~103 bits, and a local
 * part every mail system passes on unchanged (no case, no symbols).
 */
export async function makeMailAddress(db: Db, projectId: string): Promise<string> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(40);
  let token = '';
  // rejection sampling keeps every character equally likely (256 is not a multiple of 36)
  for (const b of bytes) if (b < 252 && token.length < 20) token += alphabet[b % 36];
  while (token.length < 20) token += alphabet[randomBytes(1)[0]! % 36];
  const now = Date.now();
  await db
    .insertInto('project_mail_addresses')
    .values({ project_id: projectId, token_hash: hashToken(token), created_at: now })
    .onConflict((oc) => oc.column('project_id').doUpdateSet({ token_hash: hashToken(token), created_at: now }))
    .execute();
  return token;
}

export async function mailAddressOf(db: Db, projectId: string): Promise<{ created_at: number } | undefined> {
  return db.selectFrom('project_mail_addresses').select('created_at').where('project_id', '=', projectId).executeTakeFirst();
}

export async function removeMailAddress(db: Db, projectId: string): Promise<void> {
  await db.deleteFrom('project_mail_addresses').where('project_id', '=', projectId).execute();
}

/** The project a recipient address opens, or undefined (not ours, unknown project, wrong or old token). */
export async function projectForAddress(db: Db, address: string, domain: string) {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== domain) return undefined;
  const local = address.slice(0, at).toLowerCase();
  if (!local.startsWith(LOCAL_PREFIX)) return undefined;
  const rest = local.slice(LOCAL_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const [name, token] = [rest.slice(0, dot), rest.slice(dot + 1)];
  const row = await db
    .selectFrom('projects as p')
    .innerJoin('project_mail_addresses as a', 'a.project_id', 'p.id')
    .selectAll('p')
    .where('p.name', '=', name)
    .where('a.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  return row;
}
