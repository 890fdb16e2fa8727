/**
 * Reads the statements `pg_stat_statements` has recorded for the current database, with the role
 * that ran each (`userid` joined to `pg_roles`) and its number of calls. The texts are normalised
 * by the extension (constants replaced by `$1`, `$2`, …), which PostgreSQL's parser reads as
 * parameters. Only statements that completed are recorded (an INSERT that failed is not there;
 * one rolled back is).
 */
import { ConvergeError } from '../../core/errors.js';
import { quoteIdentifier } from '../identifiers.js';
import type { CapturedStatement } from './captured-statement.js';
import type { SqlQuery } from './database-catalog.js';

/** What `readPgStatStatements` found. */
export interface PgStatStatements {
  readonly statements: CapturedStatement[];
  /** Entries whose text this role may not see (`<insufficient privilege>`): grant it `pg_read_all_stats`. */
  readonly hidden: number;
}

const HIDDEN = '<insufficient privilege>';

/**
 * The current database's entries of `pg_stat_statements`.
 *
 * @throws ConvergeError `PG_STAT_STATEMENTS_UNAVAILABLE` when the extension is not created in this
 *   database or not preloaded, naming both steps.
 * @example const { statements } = await readPgStatStatements((sql, params) => tx.query(sql, params));
 */
export async function readPgStatStatements(query: SqlQuery, database: string): Promise<PgStatStatements> {
  const [extension] = await query(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'pg_stat_statements'`,
  );
  if (extension === undefined) throw unavailable(database, 'the extension is not created in this database');
  let rows: Record<string, unknown>[];
  try {
    rows = await query(
      `SELECT r.rolname AS role, s.query AS sql, s.calls::text AS calls
         FROM ${quoteIdentifier(String(extension.schema))}.pg_stat_statements s
         JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw unavailable(database, message, cause);
  }
  const statements: CapturedStatement[] = [];
  let hidden = 0;
  for (const row of rows) {
    const sql = typeof row.sql === 'string' ? row.sql : '';
    if (sql === HIDDEN) {
      hidden += 1;
      continue;
    }
    statements.push({ role: String(row.role), sql, calls: Number(row.calls) });
  }
  return { statements, hidden };
}

function unavailable(database: string, why: string, cause?: unknown): ConvergeError {
  return new ConvergeError(
    'PG_STAT_STATEMENTS_UNAVAILABLE',
    `pg_stat_statements cannot be read in database '${database}': ${why}. Add pg_stat_statements to shared_preload_libraries, restart PostgreSQL, and run CREATE EXTENSION pg_stat_statements in this database (docs/ownership-inference.md); or read a log file with --log.`,
    { details: { database }, ...(cause === undefined ? {} : { cause }) },
  );
}
