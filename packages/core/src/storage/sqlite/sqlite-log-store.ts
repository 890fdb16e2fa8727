import { ConvergeError } from '../../core/errors.js';
import type { GroupLease, LogEntry, LogRecord, LogStore } from '../../ports/log-store.js';
import type { SqliteConnection } from './sqlite-storage.js';

/**
 * The SQL log transport's storage in a SQLite file ("the embedded default": no broker at all).
 * SQLite's single writer numbers and commits each append before the next begins, so positions
 * become visible in increasing order and `position > committed` never skips a record.
 */
export class SqliteLogStore implements LogStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.#connection.transaction((_tx, statements) => {
      const now = Date.now();
      for (const entry of entries) {
        statements.run(
          'INSERT INTO converge_log (message_id, source, type, key, body, appended_at) VALUES (?, ?, ?, ?, ?, ?)',
          [entry.messageId, entry.source, entry.type, entry.key, entry.body, now],
        );
      }
    });
  }

  acquireGroup(group: string, holderId: string, leaseMs: number): Promise<GroupLease | null> {
    return this.#connection.transaction((_tx, statements) => {
      const now = Date.now();
      const current = statements.get<{ holder_id: string | null; token: number; lease_expires_at: number }>(
        'SELECT holder_id, token, lease_expires_at FROM converge_log_group WHERE group_name = ?',
        [group],
      );
      if (
        current &&
        current.holder_id !== null &&
        current.holder_id !== holderId &&
        current.lease_expires_at > now
      ) {
        return null;
      }
      const token =
        current === undefined ? 1 : current.holder_id === holderId ? current.token : current.token + 1;
      statements.run(
        `INSERT INTO converge_log_group (group_name, position, holder_id, token, lease_expires_at) VALUES (?, 0, ?, ?, ?)
         ON CONFLICT (group_name) DO UPDATE SET holder_id = excluded.holder_id, token = excluded.token,
           lease_expires_at = excluded.lease_expires_at`,
        [group, holderId, token, now + leaseMs],
      );
      return { group, holderId, token };
    });
  }

  async releaseGroup(lease: GroupLease): Promise<void> {
    await this.#connection.transaction((_tx, statements) =>
      statements.run(
        'UPDATE converge_log_group SET holder_id = NULL, lease_expires_at = 0 WHERE group_name = ? AND token = ? AND holder_id = ?',
        [lease.group, lease.token, lease.holderId],
      ),
    );
  }

  committedPosition(group: string): Promise<number> {
    return this.#connection.use(
      (statements) =>
        statements.get<{ position: number }>('SELECT position FROM converge_log_group WHERE group_name = ?', [
          group,
        ])?.position ?? 0,
    );
  }

  read(afterPosition: number, limit: number): Promise<LogRecord[]> {
    return this.#connection.use((statements) =>
      statements
        .all<{ position: number; message_id: string; body: string }>(
          'SELECT position, message_id, body FROM converge_log WHERE position > ? ORDER BY position LIMIT ?',
          [afterPosition, limit],
        )
        .map((row) => ({ position: row.position, messageId: row.message_id, body: row.body })),
    );
  }

  commit(lease: GroupLease, position: number): Promise<void> {
    return this.#connection.transaction((_tx, statements) => {
      const changed = statements.run(
        'UPDATE converge_log_group SET position = max(position, ?) WHERE group_name = ? AND token = ? AND holder_id = ?',
        [position, lease.group, lease.token, lease.holderId],
      );
      if (changed === 0) {
        throw new ConvergeError(
          'LOG_LEASE_LOST',
          `Consumer group '${lease.group}': '${lease.holderId}' no longer holds the lease (token ${lease.token}); the messages it handled will be delivered again to the new holder.`,
        );
      }
    });
  }

  headPosition(): Promise<number> {
    return this.#connection.use(
      (statements) =>
        statements.get<{ p: number | null }>('SELECT max(position) AS p FROM converge_log')?.p ?? 0,
    );
  }
}
