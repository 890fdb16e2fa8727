import { ConvergeError } from '../../core/errors.js';
import type { Transaction } from '../../ports/storage.js';
import type { PgClientLike, PgPoolLike } from './pg-like.js';
import { PgSession } from './pg-session.js';
import { pgTransactionHandle } from './pg-transaction.js';

/** A connection used only for `LISTEN`, and how to give it back. */
export interface ListenerConnection {
  readonly client: Pick<PgClientLike, 'query' | 'on' | 'removeListener'>;
  /** Ends the connection (own client) or returns it to the pool (caller's pool). Never throws. */
  close(error?: Error): Promise<void>;
}

/** Where connections come from: a pool, and a way to open a dedicated listening connection. */
export interface PgConnectionSource {
  pool(): Promise<PgPoolLike>;
  openListener(): Promise<ListenerConnection>;
  /** Ends what this source created itself (never the caller's pool). */
  close(): Promise<void>;
}

/**
 * The adapter's access to PostgreSQL: one-off statements on the pool, transactions on a
 * checked-out client, and sessions for the work that must keep one connection (claims,
 * migrations).
 */
export class PgConnection {
  readonly #source: PgConnectionSource;

  constructor(source: PgConnectionSource) {
    this.#source = source;
  }

  /** Runs one statement outside any transaction. */
  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: Row[]; rowCount: number }> {
    const pool = await this.#source.pool();
    const result = await pool.query(sql, params === undefined ? undefined : [...params]);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  }

  /** Checks a connection out of the pool; the caller must `release` it. */
  async checkout(): Promise<PgSession> {
    const pool = await this.#source.pool();
    return new PgSession(await pool.connect());
  }

  /** A dedicated connection for `LISTEN`. */
  openListener(): Promise<ListenerConnection> {
    return this.#source.openListener();
  }

  /**
   * Runs `work` between `BEGIN` and `COMMIT` on one checked-out connection; rolls back when it
   * throws. The connection goes back to the pool afterwards, or is destroyed when it broke.
   *
   * @throws ConvergeError `TRANSACTION_ABORTED` when `work` swallowed a failed statement: PostgreSQL
   *   then answers `COMMIT` with a rollback, and nothing of the transaction was kept.
   */
  async transaction<T>(work: (tx: Transaction<PgClientLike>) => Promise<T>): Promise<T> {
    const session = await this.checkout();
    try {
      await session.query('BEGIN');
    } catch (error) {
      session.release(error);
      throw error;
    }
    let open = true;
    let result: T;
    try {
      result = await work(pgTransactionHandle(session.client, () => open));
    } catch (error) {
      open = false;
      await session.rollbackAndRelease();
      throw error;
    }
    open = false;
    let commit: { command: string | undefined };
    try {
      commit = await session.query('COMMIT');
    } catch (error) {
      session.release(error);
      throw error;
    }
    session.release();
    if (commit.command === 'ROLLBACK') {
      throw new ConvergeError(
        'TRANSACTION_ABORTED',
        'The transaction was rolled back instead of committed because one of its statements failed and the error was caught; let the error propagate, or use a savepoint around the statement that may fail.',
      );
    }
    return result;
  }

  close(): Promise<void> {
    return this.#source.close();
  }
}

/** Converts a `bigint`/`count(*)` column (`pg` returns it as a string) to a number. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || typeof value === 'bigint') return Number(value);
  return 0;
}
