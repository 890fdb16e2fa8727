/**
 * Ownership inference end to end: reads the catalog of the database the traffic ran on, takes the
 * statements from `pg_stat_statements` or from a server log, and attributes each table read and
 * write to a service. Superusers are left out by default (setup and migrations run by an
 * administrator say nothing about which service owns what), and so are the roles named in
 * `ignoreRoles`.
 */

import type { CapturedStatement } from './captured-statement.js';
import { readDatabaseCatalog, type SqlQuery } from './database-catalog.js';
import { compileLogLinePrefix } from './log-line-prefix.js';
import { readPgStatStatements } from './pg-stat-statements.js';
import { readPostgresLog } from './postgres-log.js';
import { createRoleMapping } from './role-mapping.js';
import { loadSqlParser } from './sql-parser.js';
import { createTableResolver } from './table-resolver.js';
import { type IgnoredRole, observeTraffic, type TrafficObservations } from './traffic-observations.js';

/** Where the statements come from. */
export type InferenceInput =
  | { readonly from: 'pg_stat_statements' }
  /** A log's text; `prefix` is the `log_line_prefix` it was written with (default: the server's). */
  | { readonly from: 'log'; readonly text: string; readonly prefix?: string };

/** What `inferOwnership` takes. */
export interface InferOwnershipOptions {
  /** Runs SQL on the database the traffic ran on (catalog, settings, `pg_stat_statements`). */
  readonly query: SqlQuery;
  /** How to name the database in the output (a masked URL). */
  readonly database: string;
  readonly input: InferenceInput;
  /** Role → service, before the default suffix rule. */
  readonly roleMap?: ReadonlyMap<string, string>;
  /** The declared services, when comparing with a manifest. */
  readonly services?: readonly string[];
  readonly ignoreRoles?: readonly string[];
  /** Keep superusers' statements. Default false. */
  readonly includeSuperusers?: boolean;
}

/** The observations, with what the caller should know about their completeness. */
export interface InferenceResult {
  readonly observations: TrafficObservations;
  /** Reasons the observations may be incomplete, each naming the fix. */
  readonly warnings: readonly string[];
}

/**
 * Infers who reads and writes what.
 *
 * @throws ConvergeError `PG_STAT_STATEMENTS_UNAVAILABLE` (extension missing or not preloaded),
 *   `LOG_PREFIX_WITHOUT_USER` (the log's lines do not name the role), and the driver's errors.
 * @example const { observations } = await inferOwnership({ query, database: 'postgres://app@db/app', input: { from: 'pg_stat_statements' } });
 */
export async function inferOwnership(options: InferOwnershipOptions): Promise<InferenceResult> {
  const catalog = await readDatabaseCatalog(options.query);
  const warnings: string[] = [];
  let statements: CapturedStatement[];
  if (options.input.from === 'pg_stat_statements') {
    const read = await readPgStatStatements(options.query, catalog.database);
    statements = read.statements;
    if (read.hidden > 0) {
      warnings.push(
        `${read.hidden} pg_stat_statements entr(y/ies) of other roles are hidden from this role: GRANT pg_read_all_stats to it, or connect as a superuser.`,
      );
    }
  } else {
    const prefix = options.input.prefix ?? (await serverLogLinePrefix(options.query));
    const read = readPostgresLog(options.input.text, compileLogLinePrefix(prefix), catalog.database);
    statements = read.statements;
    if (read.statements.length === 0) {
      warnings.push(
        `The log has no statements of database '${catalog.database}' (${read.entries} entries read with log_line_prefix '${prefix}'): set log_statement = 'all' (or 'mod' for writes only), and pass --log-prefix if the log was written with another prefix.`,
      );
    }
  }
  const ignoredRoles: IgnoredRole[] = [
    ...(options.ignoreRoles ?? []).map((role) => ({ role, reason: 'asked' as const })),
    ...(options.includeSuperusers === true
      ? []
      : [...catalog.superusers]
          .filter((role) => !(options.ignoreRoles ?? []).includes(role))
          .map((role) => ({ role, reason: 'superuser' as const }))),
  ];
  const observations = observeTraffic({
    source: options.input.from,
    database: options.database,
    statements,
    parser: await loadSqlParser(),
    resolveTable: createTableResolver(catalog),
    serviceOf: createRoleMapping({
      ...(options.roleMap === undefined ? {} : { explicit: options.roleMap }),
      ...(options.services === undefined ? {} : { services: options.services }),
    }),
    ignoredRoles,
  });
  if (observations.statements.unparsable > 0) {
    warnings.push(
      `${observations.statements.unparsable} statement(s) could not be parsed and were left out (see unparsable in --json).`,
    );
  }
  return { observations, warnings };
}

async function serverLogLinePrefix(query: SqlQuery): Promise<string> {
  const [row] = await query(`SELECT current_setting('log_line_prefix') AS prefix`);
  return String(row?.prefix ?? '');
}
