import { ConvergeError } from '../../core/errors.js';
import type { OutboxClaim, OutboxRow } from '../../ports/outbox-store.js';
import type { PgSession } from './pg-session.js';

/**
 * A relay's claim on outbox rows, held as an open transaction whose `FOR UPDATE SKIP LOCKED` row
 * locks are the claim.
 *
 * States: open → published (markPublished: UPDATE, COMMIT, release) or open → released (release:
 * ROLLBACK, release). If the connection ends meanwhile (the relay hung past
 * `idle_in_transaction_session_timeout`, PostgreSQL restarted, the process died), PostgreSQL rolls
 * the transaction back, the locks go, and another relay may claim the rows: `markPublished` then
 * throws `RELAY_LEASE_LOST`.
 */
export class PostgresOutboxClaim implements OutboxClaim {
  readonly rows: readonly OutboxRow[];
  readonly #session: PgSession;
  readonly #relayId: string;
  #state: 'open' | 'published' | 'released' = 'open';

  constructor(session: PgSession, relayId: string, rows: readonly OutboxRow[]) {
    this.#session = session;
    this.#relayId = relayId;
    this.rows = Object.freeze([...rows]);
  }

  /**
   * Marks every claimed row published and commits. Calling it again after success does nothing.
   * @throws ConvergeError `RELAY_LEASE_LOST` when the claim's transaction or connection is gone.
   */
  async markPublished(): Promise<void> {
    if (this.#state === 'published') return;
    if (this.#state === 'released') throw this.#leaseLost('the claim was already released');
    const session = this.#session;
    if (session.lost !== undefined) {
      this.#state = 'released';
      session.release();
      throw this.#leaseLost(session.lost.message, session.lost);
    }
    try {
      // The mark commits without waiting for its WAL flush (synchronous_commit off, this
      // transaction only): if the server crashes before the flush, the rows are published again
      // and consumers deduplicate them. One fsync fewer on every message's path.
      await session.query(
        `UPDATE converge.outbox SET published_at = now()
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
         WHERE position = ANY($1::bigint[])`,
        [this.rows.map((row) => row.position)],
      );
      const commit = await session.query('COMMIT');
      if (commit.command === 'ROLLBACK') throw new Error('the transaction had failed and was rolled back');
    } catch (error) {
      this.#state = 'released';
      session.release(error instanceof Error ? error : true);
      throw this.#leaseLost((error as Error).message, error);
    }
    this.#state = 'published';
    session.release();
  }

  /** Gives the rows back unmarked (ROLLBACK). Does nothing once published or released. */
  async release(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'released';
    await this.#session.rollbackAndRelease();
  }

  #leaseLost(why: string, cause?: unknown): ConvergeError {
    const first = this.rows[0]?.position;
    const last = this.rows.at(-1)?.position;
    return new ConvergeError(
      'RELAY_LEASE_LOST',
      `Relay '${this.#relayId}' lost its claim on outbox positions ${first}..${last} (${this.rows.length} messages) before marking them published (${why}); they stay unpublished and will be published again, and consumers deduplicate them.`,
      { cause, details: { relayId: this.#relayId, count: this.rows.length } },
    );
  }
}
