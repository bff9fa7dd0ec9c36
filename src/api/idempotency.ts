import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../auth/index.js';
import { AppError } from '../errors/index.js';
import type { Store } from '../store/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route honours the Idempotency-Key header (see honourIdempotencyKeys) */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** the idempotency row this request claimed, to store its answer in */
    idempotencyClaim: { caller: string; route: string; key: string } | undefined;
  }
}

/** how long a key's answer is kept and replayed */
export const IDEMPOTENCY_MS = 24 * 3600_000;

/**
 * `Idempotency-Key` on the routes with `config.idempotent`: the first request with a key (per
 * caller, method and path) claims a row before its handler runs; its answer (status and body)
 * is kept for 24 h and given again to a retry with the same key and body, without running the
 * handler again. The same key with another body is a 422; a retry while the first still runs
 * is a 409 (the row is claimed in one insert, so two concurrent duplicates cannot both run).
 * A 5xx answer is not kept: the key is free again for a retry. Call after guardRequests, so
 * the access check comes first, and before any onSend hook that changes the body (compression).
 */
export function honourIdempotencyKeys(api: FastifyInstance, store: Store): void {
  api.decorateRequest('idempotencyClaim', undefined);
  api.addHook('preHandler', async (req, reply) => {
    if (req.routeOptions.config.idempotent !== true) return;
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '' || req.caller === undefined) return;
    const claim = { caller: callerKey(req.caller), route: `${req.method} ${req.url.split('?')[0]}`, key };
    const hash = requestHash(req);
    const now = Date.now();
    const seen = await store.tx(async (db) => {
      await db
        .deleteFrom('idempotency_keys')
        .where('created_at', '<', now - IDEMPOTENCY_MS)
        .execute();
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({ ...claim, request_hash: hash, status: null, response: null, created_at: now })
        .onConflict((oc) => oc.columns(['caller', 'route', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return undefined;
      return db.selectFrom('idempotency_keys').selectAll().where('caller', '=', claim.caller).where('route', '=', claim.route).where('key', '=', key).executeTakeFirstOrThrow();
    });
    if (seen === undefined) {
      req.idempotencyClaim = claim;
      return;
    }
    if (seen.request_hash !== hash) throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was used for a different request to ${claim.route}.`);
    if (seen.status === null || seen.response === null) throw new AppError('IDEMPOTENCY_KEY_IN_USE', `A request with Idempotency-Key ${JSON.stringify(key)} is still running.`);
    return reply.code(Number(seen.status)).header('content-type', 'application/json; charset=utf-8').header('idempotent-replayed', 'true').send(seen.response);
  });

  api.addHook('onSend', async (req, reply, payload) => {
    const claim = req.idempotencyClaim;
    if (claim === undefined) return payload;
    req.idempotencyClaim = undefined;
    const row = (db: Parameters<Parameters<Store['tx']>[0]>[0]) => db.updateTable('idempotency_keys').where('caller', '=', claim.caller).where('route', '=', claim.route).where('key', '=', claim.key);
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await store.tx((db) => db.deleteFrom('idempotency_keys').where('caller', '=', claim.caller).where('route', '=', claim.route).where('key', '=', claim.key).execute());
    } else {
      await store.tx((db) => row(db).set({ status: reply.statusCode, response: payload }).execute());
    }
    return payload;
  });
}

function callerKey(caller: Caller): string {
  if (caller.kind === 'admin') return 'admin';
  if (caller.kind === 'deploy') return `t:${caller.token.id}`;
  return `u:${caller.user.id}`;
}

/** what makes two requests "the same": the parsed body (no body and {} are the same) */
function requestHash(req: FastifyRequest): string {
  const body = req.body === undefined || req.body === null ? {} : req.body;
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}
