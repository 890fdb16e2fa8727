/**
 * One statement a role ran, as a traffic source captured it: a `pg_stat_statements` entry
 * (normalised text with `$1` placeholders, and how many times it ran) or one statement line of a
 * PostgreSQL log (`calls` = 1 per line).
 */
export interface CapturedStatement {
  /** The role that ran it (`pg_stat_statements.userid`, or `%u` in the log line prefix). */
  readonly role: string;
  /** The SQL text; several statements separated by `;` are allowed. */
  readonly sql: string;
  /** How many times it ran. */
  readonly calls: number;
}

/** Where the statements came from, as the command names it (`--from`). */
export type TrafficSource = 'pg_stat_statements' | 'log';
