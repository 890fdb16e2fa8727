/** `@converge/core/sqlite`: Converge on an embedded SQLite file (better-sqlite3). */
export type { SqliteDatabaseLike, SqliteStatementLike } from './sqlite-database-like.js';
export { sqliteTransaction } from './sqlite-executor.js';
export { createSqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';
