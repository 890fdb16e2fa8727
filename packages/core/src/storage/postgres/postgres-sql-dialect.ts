import type { SqlDialect } from '../sql-dialect.js';
import type { PgConnection } from './pg-connection.js';

/**
 * The PostgreSQL side of the shared SQL stores: tables in schema `converge`, `$n` placeholders,
 * `timestamptz` and `jsonb` columns (pg parses both on the way back).
 */
export function postgresSqlDialect(connection: PgConnection): SqlDialect {
  return Object.freeze({
    table: (name: string) => `converge.${name}`,
    placeholder: (index: number) => `$${index}`,
    toTime: (at: Date) => at,
    fromTime: (value: unknown) => value as Date,
    fromJson: (value: unknown) => value,
    read: async (sql: string, params: readonly unknown[]) => (await connection.query(sql, params)).rows,
    write: async (sql: string, params: readonly unknown[]) => (await connection.query(sql, params)).rowCount,
  });
}
