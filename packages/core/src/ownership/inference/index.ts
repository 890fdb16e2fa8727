/**
 * `@converge/core/inference`: ownership inference from real traffic — who reads and writes which
 * table, from `pg_stat_statements` or a PostgreSQL log, parsed with PostgreSQL's own parser
 * (`libpg-query`, WebAssembly). A separate entry point so that `@converge/core` never loads the
 * parser (ADR 0021; docs/ownership-inference.md).
 *
 * @example
 * import { compareWithManifest, inferOwnership, proposeManifest } from '@converge/core/inference';
 */
export type { CapturedStatement, TrafficSource } from './captured-statement.js';
export { type DatabaseCatalog, readDatabaseCatalog, type SqlQuery } from './database-catalog.js';
export { type DeclaredTable, declaredAccess } from './declared-access.js';
export {
  type InferenceInput,
  type InferenceResult,
  type InferOwnershipOptions,
  inferOwnership,
} from './infer-ownership.js';
export { compileLogLinePrefix, type LogLinePrefix } from './log-line-prefix.js';
export {
  compareWithManifest,
  DifferenceKind,
  type OwnershipDifference,
} from './manifest-differences.js';
export { type PgStatStatements, readPgStatStatements } from './pg-stat-statements.js';
export { type PostgresLogStatements, readPostgresLog } from './postgres-log.js';
export { proposeManifest } from './proposed-manifest.js';
export {
  createRoleMapping,
  ROLE_SUFFIXES,
  type RoleMapping,
  type RoleMappingOptions,
} from './role-mapping.js';
export { loadSqlParser, type ParsedSql, type SqlParser } from './sql-parser.js';
export { type Access, type TableOperation, type TableReference, tableAccessOf } from './table-access.js';
export { createTableResolver, type TableResolver } from './table-resolver.js';
export {
  type IgnoredRole,
  type ObserveTrafficOptions,
  observeTraffic,
  type TableAccessObservation,
  type TrafficObservations,
  type UnparsableStatement,
} from './traffic-observations.js';
