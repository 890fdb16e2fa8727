import { idempotencyRepeat } from '../../core/idempotency-record.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../../ports/idempotency-store.js';
import type { Transaction } from '../../ports/storage.js';
import type { PgConnection } from './pg-connection.js';

/**
 * Participant idempotency keys in `converge.idempotency_key`.
 *
 * Concurrency invariant: `begin` is `INSERT … ON CONFLICT DO NOTHING` on the primary key
 * (scope, key). While another transaction holds an uncommitted row for the same key, the insert
 * waits for it. If that transaction commits, the insert does nothing and the following `SELECT`
 * — a new statement, so a new snapshot under READ COMMITTED — sees the committed row with its
 * response: a replay, never a second effect. If it rolls back, the insert goes through and this
 * request runs the effect. `ON CONFLICT DO NOTHING` raises no error, so the caller's transaction
 * is never aborted by a duplicate. (Under REPEATABLE READ or SERIALIZABLE the waiting insert fails
 * with a serialization error instead; the caller's retry then replays.)
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
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
      `INSERT INTO converge.idempotency_key (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [scope, key, requestHash, at],
    );
    if (inserted === 1) return { kind: 'new' };
    const [row] = await tx.query<{
      request_hash: string;
      response_status: number | null;
      response_headers: Record<string, string> | null;
      response_body: string | null;
    }>(
      `SELECT request_hash, response_status, response_headers, response_body FROM converge.idempotency_key
       WHERE scope = $1 AND key = $2`,
      [scope, key],
    );
    return idempotencyRepeat(
      scope,
      key,
      requestHash,
      row && {
        requestHash: row.request_hash,
        status: row.response_status,
        headers: row.response_headers,
        body: row.response_body,
      },
    );
  }

  async complete(tx: Transaction, scope: string, key: string, response: StoredResponse): Promise<void> {
    await tx.execute(
      `UPDATE converge.idempotency_key SET response_status = $3, response_headers = $4, response_body = $5
       WHERE scope = $1 AND key = $2`,
      [scope, key, response.status, JSON.stringify(response.headers), response.body],
    );
  }

  async prune(before: Date, limit: number): Promise<number> {
    const { rowCount } = await this.#connection.query(
      `DELETE FROM converge.idempotency_key WHERE (scope, key) IN (
         SELECT scope, key FROM converge.idempotency_key WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
      [before, Math.max(0, Math.trunc(limit))],
    );
    return rowCount;
  }
}
