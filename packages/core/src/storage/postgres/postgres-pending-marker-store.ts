import { SqlPendingMarkerStore } from '../sql-pending-marker-store.js';
import type { PgConnection } from './pg-connection.js';

/**
 * Pending markers in `converge.pending_marker`. A `mark` of a row another transaction has just
 * marked waits on the primary key until that transaction ends (READ COMMITTED), then reports the
 * holder if it committed, or marks the row if it rolled back.
 */
export function postgresPendingMarkerStore(connection: PgConnection): SqlPendingMarkerStore {
  return new SqlPendingMarkerStore({
    table: 'converge.pending_marker',
    placeholder: (index) => `$${index}`,
    text: (expression) => `(${expression})::text`,
    toColumn: (at) => at,
    fromColumn: (value) => value as Date,
    read: async (sql, params) => (await connection.query(sql, params)).rows,
  });
}
