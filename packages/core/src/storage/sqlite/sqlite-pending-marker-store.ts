import { SqlPendingMarkerStore } from '../sql-pending-marker-store.js';
import type { SqliteConnection } from './sqlite-storage.js';

/**
 * Pending markers in a SQLite file (`converge_pending_marker`; `since` in epoch milliseconds).
 * Every write transaction holds the file's only write lock, so two sagas marking one row take turns
 * and the second finds the first's marker.
 */
export function sqlitePendingMarkerStore(connection: SqliteConnection): SqlPendingMarkerStore {
  return new SqlPendingMarkerStore({
    table: 'converge_pending_marker',
    placeholder: () => '?',
    text: (expression) => `CAST(${expression} AS TEXT)`,
    toColumn: (at) => at.getTime(),
    fromColumn: (value) => new Date(Number(value)),
    read: (sql, params) => connection.use((statements) => statements.all(sql, params)),
  });
}
