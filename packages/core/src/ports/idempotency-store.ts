/**
 * The participant side of an idempotent call: the idempotency key of a request and the response
 * that was sent for it, recorded in the participant's own database **in the same transaction as
 * the request's effect**. A repeated key finds the row and gets the stored response without a
 * second effect; a crash before commit leaves neither effect nor row, so the retry runs it again.
 *
 * Concurrency invariant: the row is inserted before the handler runs, inside the transaction. A
 * concurrent request with the same key blocks on the unique key (PostgreSQL) or on the single
 * writer (SQLite) until the first commits, then finds the stored response — never two effects.
 */
import type { Transaction } from './storage.js';

/** A response as recorded: enough to send the same answer again. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (JSON is stored as its text). */
  readonly body: string;
}

/** What `begin` found. */
export type IdempotencyBegin =
  /** First time: the key is reserved in `tx`; run the effect, then `complete` in the same `tx`. */
  | { readonly kind: 'new' }
  /** Seen before with the same request: send this again, run nothing. */
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  /** Seen before with a different request (another hash): refuse (HTTP 422). */
  | { readonly kind: 'mismatch'; readonly storedRequestHash: string };

export interface IdempotencyStore {
  /**
   * Reserves (`scope`, `key`) inside `tx` with the request's hash, or reports what was recorded
   * for it. `scope` separates endpoints or participants sharing a database (e.g. `POST /payments`).
   */
  begin(
    tx: Transaction,
    scope: string,
    key: string,
    requestHash: string,
    at: Date,
  ): Promise<IdempotencyBegin>;
  /** Stores the response for a key `begin` reserved in the same `tx`. */
  complete(tx: Transaction, scope: string, key: string, response: StoredResponse): Promise<void>;
  /** Deletes keys recorded before `before` (retention); returns how many. */
  prune(before: Date, limit: number): Promise<number>;
}
