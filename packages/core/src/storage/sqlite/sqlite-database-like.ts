/** The part of a better-sqlite3 statement Converge uses. */
export interface SqliteStatementLike {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  readonly reader: boolean;
}

/**
 * The part of a better-sqlite3 `Database` Converge uses, so that the library does not depend on
 * the driver: pass your own `new Database(file)` and Converge works inside your transactions.
 */
export interface SqliteDatabaseLike {
  prepare(sql: string): SqliteStatementLike;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  readonly inTransaction: boolean;
  readonly name: string;
  close(): unknown;
}
