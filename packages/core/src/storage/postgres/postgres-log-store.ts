import { ConvergeError } from '../../core/errors.js';
import type { GroupLease, LogEntry, LogRecord, LogStore } from '../../ports/log-store.js';
import { LOG_CHANNEL } from '../../ports/storage.js';
import { LOG_APPEND_LOCK_KEY } from './advisory-lock-key.js';
import type { PgConnection } from './pg-connection.js';
import { toNumber } from './pg-connection.js';

/**
 * The SQL log transport's storage in PostgreSQL ("Postgres as the broker"): `converge.log`, an
 * append-only table, and `converge.log_group`, one committed position and lease per consumer
 * group.
 *
 * Invariant: positions become visible in increasing order. Every append first takes the
 * transaction-level advisory lock `LOG_APPEND_LOCK_KEY` and keeps it until it commits, so appends
 * draw their positions and commit one at a time: when a reader sees position p, every lower
 * position is either committed already or was rolled back and never will be. A reader that asks
 * for `position > committed` therefore never skips a record that commits later. (Without the lock,
 * transaction A could take position 5, B position 6, B commit, a reader consume 6 and commit it,
 * and A's 5 would never be read.)
 *
 * Group leases use the database's clock (`now()`), never a process's, so holders on machines whose
 * clocks disagree still agree on expiry. The fencing token grows whenever the lease changes hands
 * (or is taken again after a release), and `commit` only succeeds with the current token.
 */
export class PostgresLogStore implements LogStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
    this.#connection = connection;
  }

  async append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#connection.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOG_APPEND_LOCK_KEY]);
      await tx.query(
        `WITH appended AS (
           INSERT INTO converge.log (message_id, source, type, key, body)
           SELECT message_id, source, type, key, body
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             WITH ORDINALITY AS e(message_id, source, type, key, body, n)
           ORDER BY n
           RETURNING 1
         )
         SELECT pg_notify($6, '')`,
        [
          entries.map((e) => e.messageId),
          entries.map((e) => e.source),
          entries.map((e) => e.type),
          entries.map((e) => e.key),
          entries.map((e) => e.body),
          LOG_CHANNEL,
        ],
      );
    });
  }

  /**
   * One atomic upsert: takes the lease when the group is new, free (released), expired, or already
   * this holder's. The token grows only when the holder changes; the same holder just renews.
   */
  async acquireGroup(group: string, holderId: string, leaseMs: number): Promise<GroupLease | null> {
    const { rows } = await this.#connection.query<{ token: string }>(
      `INSERT INTO converge.log_group AS g (group_name, position, holder_id, token, lease_expires_at)
       VALUES ($1, 0, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (group_name) DO UPDATE SET
         token = CASE WHEN g.holder_id IS NOT DISTINCT FROM EXCLUDED.holder_id THEN g.token ELSE g.token + 1 END,
         holder_id = EXCLUDED.holder_id,
         lease_expires_at = EXCLUDED.lease_expires_at
       WHERE g.holder_id IS NULL OR g.holder_id = EXCLUDED.holder_id OR g.lease_expires_at <= now()
       RETURNING token`,
      [group, holderId, Math.max(0, leaseMs)],
    );
    const row = rows[0];
    return row === undefined ? null : Object.freeze({ group, holderId, token: toNumber(row.token) });
  }

  async releaseGroup(lease: GroupLease): Promise<void> {
    await this.#connection.query(
      `UPDATE converge.log_group SET holder_id = NULL, lease_expires_at = now()
       WHERE group_name = $1 AND holder_id = $2 AND token = $3`,
      [lease.group, lease.holderId, lease.token],
    );
  }

  async committedPosition(group: string): Promise<number> {
    const { rows } = await this.#connection.query<{ position: string }>(
      'SELECT position FROM converge.log_group WHERE group_name = $1',
      [group],
    );
    return toNumber(rows[0]?.position ?? 0);
  }

  async read(afterPosition: number, limit: number): Promise<LogRecord[]> {
    const { rows } = await this.#connection.query<{ position: string; message_id: string; body: string }>(
      'SELECT position, message_id, body FROM converge.log WHERE position > $1 ORDER BY position LIMIT $2',
      [afterPosition, Math.max(0, Math.trunc(limit))],
    );
    return rows.map((row) => ({
      position: toNumber(row.position),
      messageId: row.message_id,
      body: row.body,
    }));
  }

  async commit(lease: GroupLease, position: number): Promise<void> {
    const { rowCount } = await this.#connection.query(
      // Committed without waiting for the WAL flush (this statement's transaction only): a position
      // lost in a server crash only redelivers messages the inbox deduplicates.
      `UPDATE converge.log_group SET position = $4
       FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
       WHERE group_name = $1 AND holder_id = $2 AND token = $3`,
      [lease.group, lease.holderId, lease.token, position],
    );
    if (rowCount === 0) {
      throw new ConvergeError(
        'LOG_LEASE_LOST',
        `Consumer group '${lease.group}': holder '${lease.holderId}' cannot commit position ${position}: its lease (token ${lease.token}) is no longer current (it was released, or it expired and another holder took the group). Stop reading, acquire the group again and continue from its committed position.`,
        { details: { group: lease.group, holderId: lease.holderId, token: lease.token, position } },
      );
    }
  }

  async headPosition(): Promise<number> {
    const { rows } = await this.#connection.query<{ head: string | null }>(
      'SELECT max(position) AS head FROM converge.log',
    );
    return toNumber(rows[0]?.head ?? 0);
  }
}
