import { ConvergeError } from '../../core/errors.js';
import type { Transaction } from '../../ports/storage.js';
import type { PgClientLike } from './pg-like.js';

/**
 * A `Transaction` handle over a client that is inside `BEGIN`. `isOpen` lets the owner of the
 * transaction retire the handle once it committed, so a handle kept by mistake cannot run
 * statements on a connection that went back to the pool and now serves somebody else.
 */
export function pgTransactionHandle(
  client: PgClientLike,
  isOpen: () => boolean = () => true,
): Transaction<PgClientLike> {
  const run = (sql: string, params: readonly unknown[] | undefined) => {
    if (!isOpen()) {
      return Promise.reject(
        new ConvergeError(
          'TRANSACTION_CLOSED',
          'This Converge transaction has already committed or rolled back; use the handle only inside the work function that received it.',
        ),
      );
    }
    return client.query(sql, params === undefined ? undefined : [...params]);
  };
  return Object.freeze({
    isTransaction: true as const,
    raw: client,
    async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
      return (await run(sql, params)).rows as Row[];
    },
    async execute(sql: string, params?: readonly unknown[]): Promise<number> {
      return (await run(sql, params)).rowCount ?? 0;
    },
  });
}

/**
 * Wraps your own `pg` client, already inside `BEGIN`, as a Converge `Transaction`, so that
 * `outbox.append(tx, …)` writes in your transaction: the messages commit with your change, or
 * roll back with it. Converge never commits, rolls back or releases this client; you do.
 *
 * @throws ConvergeError `OUTBOX_APPEND_OUTSIDE_TRANSACTION` when the driver reports (pg ≥ 8.12,
 *   `getTransactionStatus()`) that the client is not inside a transaction. Await your `BEGIN` first.
 * @example
 * const client = await pool.connect();
 * try {
 *   await client.query('BEGIN');
 *   await client.query('UPDATE customer SET status = $1 WHERE id = $2', ['unsubscribed', id]);
 *   await outbox.append(pgTransaction(client), [{ type: 'customer.unsubscribed', key: id, data: { id } }]);
 *   await client.query('COMMIT');
 * } catch (error) {
 *   await client.query('ROLLBACK');
 *   throw error;
 * } finally {
 *   client.release();
 * }
 */
export function pgTransaction(client: PgClientLike): Transaction<PgClientLike> {
  const status = client.getTransactionStatus?.();
  if (status === 'I') {
    throw new ConvergeError(
      'OUTBOX_APPEND_OUTSIDE_TRANSACTION',
      "This PostgreSQL client is not inside a transaction; run and await 'BEGIN' on it first so the messages commit with your change.",
    );
  }
  return pgTransactionHandle(client);
}
