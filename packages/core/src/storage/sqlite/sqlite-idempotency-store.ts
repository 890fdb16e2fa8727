import { idempotencyRepeat } from '../../core/idempotency-record.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../../ports/idempotency-store.js';
import type { Transaction } from '../../ports/storage.js';
import type { SqliteConnection } from './sqlite-storage.js';

/**
 * Participant idempotency keys in a SQLite file (`converge_idempotency_key`). A transaction here
 * is `BEGIN IMMEDIATE`, so it already holds the only write lock: a duplicate request, from this
 * process or another, waits for the first one's commit before its `begin` runs, and then finds the
 * stored response.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  async begin(
    tx: Transaction,
    scope: string,
    key: string,
    requestHash: string,
    at: Date,
  ): Promise<IdempotencyBegin> {
    const inserted = await tx.execute(
      `INSERT INTO converge_idempotency_key (scope, key, request_hash, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      [scope, key, requestHash, at.getTime()],
    );
    if (inserted === 1) return { kind: 'new' };
    const [row] = await tx.query<{
      request_hash: string;
      response_status: number | null;
      response_headers: string | null;
      response_body: string | null;
    }>(
      'SELECT request_hash, response_status, response_headers, response_body FROM converge_idempotency_key WHERE scope = ? AND key = ?',
      [scope, key],
    );
    return idempotencyRepeat(
      scope,
      key,
      requestHash,
      row && {
        requestHash: row.request_hash,
        status: row.response_status,
        headers: row.response_headers === null ? null : JSON.parse(row.response_headers),
        body: row.response_body,
      },
    );
  }

  async complete(tx: Transaction, scope: string, key: string, response: StoredResponse): Promise<void> {
    await tx.execute(
      `UPDATE converge_idempotency_key SET response_status = ?, response_headers = ?, response_body = ?
       WHERE scope = ? AND key = ?`,
      [response.status, JSON.stringify(response.headers), response.body, scope, key],
    );
  }

  prune(before: Date, limit: number): Promise<number> {
    return this.#connection.transaction((_tx, statements) =>
      statements.run(
        `DELETE FROM converge_idempotency_key WHERE (scope, key) IN (
           SELECT scope, key FROM converge_idempotency_key WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
        [before.getTime(), Math.max(0, Math.trunc(limit))],
      ),
    );
  }
}
