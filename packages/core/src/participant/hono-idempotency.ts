/**
 * `@converge/core/participant/hono`: the participant idempotency helper as Hono middleware. Hono is
 * an optional peer dependency of `@converge/core`, imported here for its types only.
 *
 * The route's handler finds the participant's transaction at `c.get('convergeTx')` and applies its
 * effect there; the middleware commits that effect together with the idempotency key and the
 * response, before the response leaves. See `runIdempotent` for which responses are stored.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { StoredResponse } from '../ports/idempotency-store.js';
import type { Transaction } from '../ports/storage.js';
import { type ParticipantOptions, resolveParticipantOptions } from './participant-options.js';
import {
  bodyTooLarge,
  checkIdempotencyKey,
  HANDLER_FAILED,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  problemResponse,
} from './participant-responses.js';
import { requestHash } from './request-hash.js';
import { runIdempotent } from './run-idempotent.js';

/** The Hono environment the middleware provides: `c.get('convergeTx')` in the route's handler. */
export interface ConvergeIdempotencyEnv {
  Variables: {
    /** The participant's transaction: apply the effect here so it commits with the key. */
    convergeTx: Transaction;
  };
}

/**
 * The middleware's options (see `ParticipantOptions`). A body without `Content-Length` is read
 * whole before the `maxBodyBytes` check: put Hono's `bodyLimit` in front to stop it while it
 * streams. `logger` sees only failures outside the route; the route's own go to `app.onError`.
 */
export type HonoIdempotencyOptions = ParticipantOptions;

/** The route's own failure, carried out of the transaction so it rolls back. */
class RouteFailed {}

/**
 * Hono middleware that applies each `Idempotency-Key` at most once: the route's effect (in
 * `c.get('convergeTx')`), the key and the response commit in one transaction. A replay returns the
 * stored response with `Idempotent-Replayed: true` and does not call the route. A reused key with
 * another method, path or body gets 422, an invalid key 400, an oversized body 413. When the route
 * throws, the transaction rolls back and the response of Hono's error handler is sent, unstored;
 * a route response with status >= 500 is sent but not stored either. The response body is
 * buffered (it is stored): do not stream through this middleware.
 *
 * @example
 * const app = new Hono<ConvergeIdempotencyEnv>();
 * app.post('/charges', idempotency({ storage, scope: 'billing' }), async (c) => {
 *   const { customer, cents } = await c.req.json();
 *   await c.get('convergeTx').execute('INSERT INTO charge (customer, cents) VALUES ($1, $2)', [customer, cents]);
 *   return c.json({ charged: cents }, 201);
 * });
 */
export function idempotency(options: HonoIdempotencyOptions): MiddlewareHandler<ConvergeIdempotencyEnv> {
  const { storage, scope, requireKey, maxBodyBytes, logger, faults } = resolveParticipantOptions(options);
  return async (c, next) => {
    const checked = checkIdempotencyKey(c.req.header(IDEMPOTENCY_KEY_HEADER), requireKey);
    if ('refusal' in checked) return toResponse(checked.refusal, false);
    const declared = Number(c.req.header('content-length'));
    if (Number.isFinite(declared) && declared > maxBodyBytes)
      return toResponse(bodyTooLarge(maxBodyBytes), false);
    let body: string;
    try {
      body = await c.req.text();
    } catch {
      // The client went away before its body arrived: nothing ran, and nobody reads this answer.
      return toResponse(
        problemResponse(400, 'Request body unreadable', 'The request body ended early.'),
        false,
      );
    }
    if (Buffer.byteLength(body) > maxBodyBytes) return toResponse(bodyTooLarge(maxBodyBytes), false);
    const url = new URL(c.req.url);
    try {
      const result = await runIdempotent({
        storage,
        scope,
        key: checked.key,
        requestHash: requestHash(c.req.method, url.pathname + url.search, body),
        handler: async (tx) => {
          c.set('convergeTx', tx);
          await next();
          if (c.error !== undefined) throw new RouteFailed();
          return stored(c);
        },
        ...(faults === undefined ? {} : { faults }),
      });
      // A route that ran has already set c.res; only a replay or a refusal answers here.
      if (result.replayed || !c.finalized) return toResponse(result.response, result.replayed);
      return undefined;
    } catch (error) {
      if (error instanceof RouteFailed) return undefined; // c.res is Hono's error response
      logger.error(
        { err: error, idempotencyKey: checked.key },
        'idempotent request failed outside its route',
      );
      c.res = undefined; // drop the route's response and its headers: it was not committed
      c.res = toResponse(HANDLER_FAILED, false);
      return undefined;
    }
  };
}

/** The route's response as stored: lower-case header names, the body as text. */
async function stored(c: Context<ConvergeIdempotencyEnv>): Promise<StoredResponse> {
  const headers: Record<string, string> = {};
  c.res.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'transfer-encoding') headers[name] = value;
  });
  return { status: c.res.status, headers, body: await c.res.clone().text() };
}

function toResponse(response: StoredResponse, replayed: boolean): Response {
  const headers = new Headers(response.headers);
  if (replayed) headers.set(IDEMPOTENT_REPLAYED_HEADER, 'true');
  return new Response(response.status === 204 || response.status === 304 ? null : response.body, {
    status: response.status,
    headers,
  });
}
