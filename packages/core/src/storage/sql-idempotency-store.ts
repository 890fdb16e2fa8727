import { idempotencyRepeat } from '../core/idempotency-record.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../ports/idempotency-store.js';
import type { Transaction } from '../ports/storage.js';
import type { SqlDialect } from './sql-dialect.js';

interface KeyRow {
  request_hash: string;
  response_status: number | null;
  response_headers: unknown;
  response_body: string | null;
}

/**
 * Participant idempotency keys over SQL, shared by the SQLite and PostgreSQL adapters (which give
 * the dialect), in table `idempotency_key`.
 *
 * Concurrency invariant: `begin` is `INSERT … ON CONFLICT DO NOTHING` on the primary key
 * (scope, key), then a read of the stored row; `ON CONFLICT DO NOTHING` raises no error, so a
 * duplicate never aborts the caller's transaction.
 * - PostgreSQL: while another transaction holds an uncommitted row for the same key, the insert
 *   waits for it. If that transaction commits, the insert does nothing and the `SELECT` — a new
 *   statement, so a new snapshot under READ COMMITTED — sees the committed row with its response:
 *   a replay, never a second effect. If it rolls back, the insert goes through and this request
 *   runs the effect. (Under REPEATABLE READ or SERIALIZABLE the waiting insert fails with a
 *   serialization error instead; the caller's retry then replays.)
 * - SQLite: a transaction is `BEGIN IMMEDIATE`, so it already holds the only write lock: a
 *   duplicate request, from this process or another, waits for the first one's commit before its
 *   `begin` runs, and then finds the stored response.
 */
export class SqlIdempotencyStore implements IdempotencyStore {
  readonly #dialect: SqlDialect;
  readonly #table: string;

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect;
    this.#table = dialect.table('idempotency_key');
  }

  async begin(
    tx: Transaction,
    scope: string,
    key: string,
    requestHash: string,
    at: Date,
  ): Promise<IdempotencyBegin> {
    const p = (i: number) => this.#dialect.placeholder(i);
    const inserted = await tx.execute(
      `INSERT INTO ${this.#table} (scope, key, request_hash, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})
       ON CONFLICT DO NOTHING`,
      [scope, key, requestHash, this.#dialect.toTime(at)],
    );
    if (inserted === 1) return { kind: 'new' };
    const [row] = await tx.query<KeyRow>(
      `SELECT request_hash, response_status, response_headers, response_body FROM ${this.#table}
       WHERE scope = ${p(1)} AND key = ${p(2)}`,
      [scope, key],
    );
    return idempotencyRepeat(
      scope,
      key,
      requestHash,
      row && {
        requestHash: row.request_hash,
        status: row.response_status,
        headers: this.#dialect.fromJson(row.response_headers) as Record<string, string> | null,
        body: row.response_body,
      },
    );
  }

  async complete(tx: Transaction, scope: string, key: string, response: StoredResponse): Promise<void> {
    const p = (i: number) => this.#dialect.placeholder(i);
    await tx.execute(
      `UPDATE ${this.#table} SET response_status = ${p(1)}, response_headers = ${p(2)}, response_body = ${p(3)}
       WHERE scope = ${p(4)} AND key = ${p(5)}`,
      [response.status, JSON.stringify(response.headers), response.body, scope, key],
    );
  }

  prune(before: Date, limit: number): Promise<number> {
    const p = (i: number) => this.#dialect.placeholder(i);
    return this.#dialect.write(
      `DELETE FROM ${this.#table} WHERE (scope, key) IN (
         SELECT scope, key FROM ${this.#table} WHERE created_at < ${p(1)} ORDER BY created_at LIMIT ${p(2)})`,
      [this.#dialect.toTime(before), Math.max(0, Math.trunc(limit))],
    );
  }
}
