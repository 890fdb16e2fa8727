/**
 * What a participant's idempotency key row says on a repeat, shared by the storage adapters: the
 * same request hash with a stored response is a replay; another hash is a mismatch. The shapes
 * here are structural copies of `ports/idempotency-store.ts` (core imports nothing from ports).
 */
import { ConvergeError, RetryableError } from './errors.js';

/** An idempotency key row as read back, columns already decoded. */
export interface IdempotencyRecord {
  readonly requestHash: string;
  readonly status: number | null;
  readonly headers: Readonly<Record<string, string>> | null;
  readonly body: string | null;
}

/**
 * Decides what an existing row means for a request with `requestHash`.
 *
 * @throws RetryableError `IDEMPOTENCY_KEY_VANISHED` when the row was pruned between the insert
 *   that saw it and the read (the retry then runs as new).
 * @throws ConvergeError `IDEMPOTENCY_KEY_INCOMPLETE` when the row was committed without a response,
 *   which only happens when `begin` and `complete` were not called in one transaction.
 */
export function idempotencyRepeat(
  scope: string,
  key: string,
  requestHash: string,
  row: IdempotencyRecord | undefined,
):
  | {
      readonly kind: 'replay';
      readonly response: {
        readonly status: number;
        readonly headers: Readonly<Record<string, string>>;
        readonly body: string;
      };
    }
  | { readonly kind: 'mismatch'; readonly storedRequestHash: string } {
  if (row === undefined) {
    throw new RetryableError(
      `Idempotency key '${key}' (scope '${scope}') was pruned while this request read it; send the request again.`,
      { code: 'IDEMPOTENCY_KEY_VANISHED', details: { scope, key } },
    );
  }
  if (row.requestHash !== requestHash) return { kind: 'mismatch', storedRequestHash: row.requestHash };
  if (row.status === null) {
    throw new ConvergeError(
      'IDEMPOTENCY_KEY_INCOMPLETE',
      `Idempotency key '${key}' (scope '${scope}') was committed without a response; call begin and complete in the same transaction (runIdempotent does), then delete this row.`,
      { details: { scope, key } },
    );
  }
  return {
    kind: 'replay',
    response: { status: row.status, headers: row.headers ?? {}, body: row.body ?? '' },
  };
}
