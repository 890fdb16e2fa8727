import type { PgClientLike, PgEventListener } from './pg-like.js';

/**
 * A connection checked out of a pool for a while (a transaction, a relay's claim, a migration).
 *
 * While Converge holds a connection idle between statements, PostgreSQL may end it (a restart,
 * `idle_in_transaction_session_timeout`, `pg_terminate_backend`). A checked-out `pg` client has no
 * `'error'` listener of its own, so the error would crash the process; this class listens, keeps
 * the error as `lost`, and hands it back with `release` so the pool destroys the connection.
 */
export class PgSession {
  readonly client: PgClientLike;
  #lost: Error | undefined;
  #released = false;
  readonly #onError = (error: Error): void => {
    this.#lost ??= error;
  };

  constructor(client: PgClientLike) {
    this.client = client;
    client.on?.('error', this.#onError as PgEventListener);
  }

  /** The error that ended the connection, if it ended while checked out. */
  get lost(): Error | undefined {
    return this.#lost;
  }

  /** Runs one statement, with `bigint` columns still strings (as `pg` returns them). */
  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: Row[]; rowCount: number; command: string | undefined }> {
    const result = await this.client.query(sql, params === undefined ? undefined : [...params]);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0, command: result.command };
  }

  /**
   * Returns the connection to the pool, or destroys it when it was lost or `error` is given (a
   * connection in an unknown state must not serve anybody else). Safe to call twice.
   */
  release(error?: unknown): void {
    if (this.#released) return;
    this.#released = true;
    this.client.removeListener?.('error', this.#onError as PgEventListener);
    const reason = this.#lost ?? error;
    if (reason === undefined) this.client.release();
    else this.client.release(reason instanceof Error ? reason : true);
  }

  /** Rolls back whatever is open (unless the connection is gone) and releases. Never throws. */
  async rollbackAndRelease(): Promise<void> {
    if (this.#lost !== undefined) {
      this.release();
      return;
    }
    try {
      await this.client.query('ROLLBACK');
      this.release();
    } catch (error) {
      this.release(error);
    }
  }
}
