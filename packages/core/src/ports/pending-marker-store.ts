/**
 * Pending markers: a participant's note, in its own database, that a row was changed by a saga
 * that has not ended yet. A saga's steps commit one at a time, so other readers see the
 * intermediate state (the customer already unsubscribed while billing may still refuse and the
 * change be undone); a reader that must not act on half-done data skips the marked rows.
 *
 * Concurrency invariant: a marker is written and removed through the participant's transaction
 * (`tx`), so it exists exactly when the step's effect is committed and the saga has not settled it
 * — a rolled-back step leaves no marker, a committed compensation leaves none either. One row is
 * held by at most one saga at a time (the primary key is (resource, key)): a second saga's `mark`
 * is told which saga holds it (a semantic lock the participant may refuse on), and on PostgreSQL
 * waits for an uncommitted first mark to commit or roll back before it answers.
 */
import type { SqlExecutor, Transaction } from './storage.js';

/** What a step marks: one row of the participant's data, by a name of your choosing and its key. */
export interface PendingTarget {
  /** What kind of row, e.g. the table's name `customer`; any text (it is a value, not SQL). */
  readonly resource: string;
  /** The row's key as text (compared with the key column's text form). */
  readonly key: string;
}

/** A marker to write: the row and the saga step that changed it. */
export interface PendingMark extends PendingTarget {
  readonly sagaId: string;
  readonly step: string;
}

/** A marker as stored. */
export interface PendingMarker extends PendingMark {
  readonly since: Date;
}

/** What `mark` did: `marked` (also when this saga had marked the row already), or `held` by another saga. */
export type MarkOutcome = { readonly kind: 'marked' } | { readonly kind: 'held'; readonly by: PendingMarker };

/** The reader's side of `skipPending`: which rows of the query are keyed how. */
export interface SkipPendingOptions {
  /** The resource name the markers were written with. */
  readonly resource: string;
  /** The column holding the row's key (an identifier: validated and quoted). */
  readonly keyColumn: string;
  /** The table name or alias `keyColumn` belongs to in your query (validated and quoted); default: unqualified. */
  readonly table?: string;
}

/** A piece of SQL for a `WHERE` clause and the values its placeholders take, in order. */
export interface SqlCondition {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export interface PendingMarkerStore {
  /** Marks a row as changed by a saga not yet ended, in the step's transaction. */
  mark(tx: Transaction, mark: PendingMark, at: Date): Promise<MarkOutcome>;
  /**
   * Removes the saga's markers (only those of `step` when given), in the transaction that settles
   * them (a compensation, or the call that tells the participant the saga completed). Returns how many.
   */
  clear(tx: Transaction, sagaId: string, step?: string): Promise<number>;
  /** Removes one row's marker if `sagaId` holds it. Returns 1 or 0. */
  clearKey(tx: Transaction, mark: PendingTarget & { readonly sagaId: string }): Promise<number>;
  /**
   * The markers a saga holds here (only `step`'s when given), oldest first, at most `limit`: what
   * an operator clears by hand after cancelling the saga (`converge saga markers`).
   */
  ofSaga(
    sagaId: string,
    options?: { readonly step?: string; readonly limit?: number },
  ): Promise<PendingMarker[]>;
  /** The row's marker, if it is pending; reads through `executor` (a transaction) when given. */
  get(target: PendingTarget, executor?: SqlExecutor): Promise<PendingMarker | undefined>;
  /**
   * A `NOT EXISTS` condition that keeps only rows without a marker, in this backend's dialect, with
   * identifiers quoted and the resource bound. On PostgreSQL its placeholder is `$<firstParam>`
   * (default 1); on SQLite it is `?`, so put its params where the condition stands.
   *
   * @throws ConvergeError `IDENTIFIER_INVALID` for a key column or table that is not a plain identifier.
   * @example
   * const pending = storage.pendingMarkers.skipPending({ resource: 'customer', keyColumn: 'id', table: 'c' }, 2);
   * await tx.query(`SELECT * FROM customer c WHERE c.plan = $1 AND ${pending.sql}`, ['gold', ...pending.params]);
   */
  skipPending(options: SkipPendingOptions, firstParam?: number): SqlCondition;
}
