/**
 * `@converge/core/ownership-guard`: what SQLite can do instead of roles — a check of each
 * statement's write targets against the manifest before it runs (docs/ownership-enforcement.md).
 * A separate entry point because it loads PostgreSQL's parser (`libpg-query`, WebAssembly).
 *
 * @example
 * import { createOwnershipGuard } from '@converge/core/ownership-guard';
 */
export {
  createOwnershipGuard,
  type GuardableDatabase,
  type GuardedWrite,
  type OwnershipGuard,
  type OwnershipGuardOptions,
} from './ownership-guard.js';
export { type SqliteStatement, splitSqliteStatements } from './sqlite-statements.js';
