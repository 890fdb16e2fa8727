import { ConvergeError } from '../core/errors.js';
import { quoteIdentifier } from '../ownership/identifiers.js';
import type {
  MarkOutcome,
  PendingMark,
  PendingMarker,
  PendingMarkerStore,
  PendingTarget,
  SkipPendingOptions,
  SqlCondition,
} from '../ports/pending-marker-store.js';
import type { SqlExecutor, Transaction } from '../ports/storage.js';

/** What differs between the backends' pending-marker SQL. */
export interface PendingMarkerDialect {
  /** The marker table, qualified as the backend needs (`converge.pending_marker`). */
  readonly table: string;
  /** The i-th (1-based) placeholder. */
  placeholder(index: number): string;
  /** An SQL expression giving `expression`'s text form (to compare a key column with `key`). */
  text(expression: string): string;
  /** A time as the `since` column takes it, and back. */
  toColumn(at: Date): unknown;
  fromColumn(value: unknown): Date;
  /** Reads outside a transaction, through the storage's own connection. */
  read(sql: string, params: readonly unknown[]): Promise<readonly unknown[]>;
}

interface MarkerRow {
  resource: string;
  key: string;
  saga_id: string;
  step: string;
  since: unknown;
}

/** Most markers `ofSaga` answers when no limit is given. */
const DEFAULT_LIST_LIMIT = 1_000;

/** The alias the marker table takes inside `skipPending`'s subquery. */
const ALIAS = 'converge_pending';

/**
 * `PendingMarkerStore` over SQL, shared by the SQLite and PostgreSQL adapters (which give the
 * dialect). Every write goes through the caller's `tx`, so a marker commits or rolls back with the
 * step's effect. A `mark` is `INSERT … ON CONFLICT DO NOTHING` then a read of the holder: it never
 * raises a unique violation (which would abort the caller's PostgreSQL transaction).
 */
export class SqlPendingMarkerStore implements PendingMarkerStore {
  readonly #dialect: PendingMarkerDialect;

  constructor(dialect: PendingMarkerDialect) {
    this.#dialect = dialect;
  }

  async mark(tx: Transaction, mark: PendingMark, at: Date): Promise<MarkOutcome> {
    for (const field of ['resource', 'key', 'sagaId', 'step'] as const) {
      if (typeof mark[field] !== 'string' || mark[field].length === 0) {
        throw new ConvergeError(
          'PENDING_MARK_INVALID',
          `Pending marker: '${field}' is missing or empty; give the resource, the row's key, the saga id and the step.`,
          { details: { field } },
        );
      }
    }
    const p = (i: number) => this.#dialect.placeholder(i);
    await tx.execute(
      `INSERT INTO ${this.#dialect.table} (resource, key, saga_id, step, since)
       VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}) ON CONFLICT DO NOTHING`,
      [mark.resource, mark.key, mark.sagaId, mark.step, this.#dialect.toColumn(at)],
    );
    // A new statement: on PostgreSQL it sees the holder that the insert may have waited for.
    const holder = await this.get(mark, tx);
    if (holder === undefined || holder.sagaId === mark.sagaId) return { kind: 'marked' };
    return { kind: 'held', by: holder };
  }

  clear(tx: Transaction, sagaId: string, step?: string): Promise<number> {
    const p = (i: number) => this.#dialect.placeholder(i);
    return step === undefined
      ? tx.execute(`DELETE FROM ${this.#dialect.table} WHERE saga_id = ${p(1)}`, [sagaId])
      : tx.execute(`DELETE FROM ${this.#dialect.table} WHERE saga_id = ${p(1)} AND step = ${p(2)}`, [
          sagaId,
          step,
        ]);
  }

  clearKey(tx: Transaction, mark: PendingTarget & { readonly sagaId: string }): Promise<number> {
    const p = (i: number) => this.#dialect.placeholder(i);
    return tx.execute(
      `DELETE FROM ${this.#dialect.table} WHERE resource = ${p(1)} AND key = ${p(2)} AND saga_id = ${p(3)}`,
      [mark.resource, mark.key, mark.sagaId],
    );
  }

  async ofSaga(sagaId: string, options: { step?: string; limit?: number } = {}): Promise<PendingMarker[]> {
    const p = (i: number) => this.#dialect.placeholder(i);
    const params: unknown[] = [sagaId];
    let sql = `SELECT resource, key, saga_id, step, since FROM ${this.#dialect.table} WHERE saga_id = ${p(1)}`;
    if (options.step !== undefined) {
      params.push(options.step);
      sql += ` AND step = ${p(2)}`;
    }
    params.push(options.limit ?? DEFAULT_LIST_LIMIT);
    sql += ` ORDER BY since, resource, key LIMIT ${p(params.length)}`;
    return ((await this.#dialect.read(sql, params)) as MarkerRow[]).map((row) => this.#marker(row));
  }

  async get(target: PendingTarget, executor?: SqlExecutor): Promise<PendingMarker | undefined> {
    const p = (i: number) => this.#dialect.placeholder(i);
    const sql = `SELECT resource, key, saga_id, step, since FROM ${this.#dialect.table}
      WHERE resource = ${p(1)} AND key = ${p(2)}`;
    const params = [target.resource, target.key];
    const [row] =
      executor === undefined
        ? ((await this.#dialect.read(sql, params)) as MarkerRow[])
        : await executor.query<MarkerRow>(sql, params);
    return row === undefined ? undefined : this.#marker(row);
  }

  #marker(row: MarkerRow): PendingMarker {
    return {
      resource: row.resource,
      key: row.key,
      sagaId: row.saga_id,
      step: row.step,
      since: this.#dialect.fromColumn(row.since),
    };
  }

  skipPending(options: SkipPendingOptions, firstParam = 1): SqlCondition {
    if (typeof options.resource !== 'string' || options.resource.length === 0) {
      throw new ConvergeError(
        'PENDING_MARK_INVALID',
        "skipPending: 'resource' is missing or empty; give the resource name the markers were written with.",
        { details: { field: 'resource' } },
      );
    }
    if (options.table === ALIAS) {
      throw new ConvergeError(
        'PENDING_MARK_INVALID',
        `skipPending: the table alias '${ALIAS}' is the marker table's own; give your table another alias.`,
        { details: { field: 'table' } },
      );
    }
    const column =
      options.table === undefined
        ? quoteIdentifier(options.keyColumn)
        : `${quoteIdentifier(options.table)}.${quoteIdentifier(options.keyColumn)}`;
    const sql = `NOT EXISTS (SELECT 1 FROM ${this.#dialect.table} AS ${ALIAS} WHERE ${ALIAS}.resource = ${this.#dialect.placeholder(firstParam)} AND ${ALIAS}.key = ${this.#dialect.text(column)})`;
    return { sql, params: [options.resource] };
  }
}
