/**
 * The framework-neutral core of an idempotent participant endpoint.
 *
 * One request runs as one transaction in the participant's own database:
 *   1. `begin` reserves (scope, key) with the request hash — or finds what an earlier request
 *      with that key recorded;
 *   2. the handler applies its effect in the same transaction and returns its response;
 *   3. `complete` stores that response, and the transaction commits effect, key and response
 *      together.
 * A repeat finds the committed row and gets the stored response back without running the handler;
 * a crash before the commit leaves neither effect nor key, so the retry runs the handler again.
 *
 * Which responses are stored: 2xx, 3xx and 4xx (a permanent refusal is the answer for that key).
 * A response with status >= 500, or a handler that throws, rolls the transaction back: the effect
 * did not happen, nothing is stored, and a retry with the same key runs the handler again.
 */
import { type FaultInjector, FaultPoint, noFaults } from '../ports/fault-points.js';
import type { StoredResponse } from '../ports/idempotency-store.js';
import type { Storage, Transaction } from '../ports/storage.js';
import { problemResponse } from './participant-responses.js';

export interface RunIdempotentOptions {
  readonly storage: Storage;
  /** Separates endpoints or participants that share a database, e.g. `'billing'` or `'POST /payments'`. */
  readonly scope: string;
  /**
   * The request's idempotency key, already validated (see `checkIdempotencyKey`). Undefined: the
   * handler runs in a transaction of its own and nothing is recorded — every request has its effect.
   */
  readonly key: string | undefined;
  /** The request's hash (see `requestHash`): the same key with another hash is refused with 422. */
  readonly requestHash: string;
  /** Applies the effect in `tx` and returns the response to send (and store). */
  readonly handler: (tx: Transaction) => Promise<StoredResponse>;
  /** Test seam: `AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE` is reached after each commit of a new key. */
  readonly faults?: FaultInjector;
  /** When the key is recorded (for retention). Default: now. */
  readonly now?: () => Date;
}

export interface IdempotentResult {
  readonly response: StoredResponse;
  /** True when `response` is the stored answer to an earlier request with this key. */
  readonly replayed: boolean;
}

/** Carries a response out of the transaction so that the transaction rolls back. */
class NotStored {
  constructor(readonly response: StoredResponse) {}
}

/**
 * Runs `handler` at most once per (scope, key): its effect, the key and the response commit in
 * one transaction of `storage`. See the file's description for which responses are stored.
 *
 * @throws whatever `handler` throws (after rolling its transaction back), and the storage's errors.
 * @example
 * const { response, replayed } = await runIdempotent({
 *   storage, scope: 'billing', key: 'saga-1:charge', requestHash: requestHash('POST', '/charges', body),
 *   handler: async (tx) => {
 *     await tx.execute('INSERT INTO charge (customer, cents) VALUES ($1, $2)', ['c1', 500]);
 *     return { status: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
 *   },
 * });
 */
export async function runIdempotent(options: RunIdempotentOptions): Promise<IdempotentResult> {
  const { storage, scope, key, handler } = options;
  let outcome: IdempotentResult & { readonly committedNew: boolean };
  try {
    outcome = await storage.transaction(async (tx) => {
      if (key !== undefined) {
        const at = options.now?.() ?? new Date();
        const begun = await storage.idempotency.begin(tx, scope, key, options.requestHash, at);
        if (begun.kind === 'replay') return { response: begun.response, replayed: true, committedNew: false };
        if (begun.kind === 'mismatch')
          return { response: mismatch(key), replayed: false, committedNew: false };
      }
      const response = await handler(tx);
      if (response.status >= 500) throw new NotStored(response);
      if (key !== undefined) await storage.idempotency.complete(tx, scope, key, response);
      return { response, replayed: false, committedNew: key !== undefined };
    });
  } catch (error) {
    if (error instanceof NotStored) return { response: error.response, replayed: false };
    throw error;
  }
  if (outcome.committedNew)
    (options.faults ?? noFaults).reach(FaultPoint.AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE);
  return { response: outcome.response, replayed: outcome.replayed };
}

function mismatch(key: string): StoredResponse {
  return problemResponse(
    422,
    'Idempotency-Key reused with a different request',
    `Idempotency-Key '${key}' was first used with a different request (method, path or body); nothing was applied. Use a new key for a new request, or resend the original request unchanged.`,
    { idempotencyKey: key },
  );
}
