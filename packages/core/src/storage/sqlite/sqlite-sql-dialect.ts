import type { SqlDialect } from '../sql-dialect.js';
import type { SqliteConnection } from './sqlite-storage.js';

/**
 * The SQLite side of the shared SQL stores: tables named `converge_*`, `?` placeholders, times in
 * epoch milliseconds, JSON as text. A write outside the caller's transaction runs in a
 * `BEGIN IMMEDIATE` transaction of its own, like every other write on the connection.
 */
export function sqliteSqlDialect(connection: SqliteConnection): SqlDialect {
  return Object.freeze({
    table: (name: string) => `converge_${name}`,
    placeholder: () => '?',
    toTime: (at: Date) => at.getTime(),
    fromTime: (value: unknown) => new Date(Number(value)),
    fromJson: (value: unknown) => (value === null ? null : JSON.parse(value as string)),
    read: (sql: string, params: readonly unknown[]) =>
      connection.use((statements) => statements.all(sql, params)),
    write: (sql: string, params: readonly unknown[]) =>
      connection.transaction((_tx, statements) => statements.run(sql, params)),
  });
}
