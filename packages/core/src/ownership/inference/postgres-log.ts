/**
 * Reads the statements out of a PostgreSQL server log written to `stderr` format (the default,
 * also through the logging collector) with `log_statement = all` (or `mod`, which logs only
 * writes and DDL) and the role in `log_line_prefix`.
 *
 * An entry starts with the prefix; the lines of a multi-line statement follow it, each started
 * with a tab by the server (`append_with_tabs`), and are joined back. Kept: `statement: …` (simple
 * protocol), `execute <name>: …` (extended protocol, as node-postgres sends parameterised
 * queries; the `DETAIL:  parameters:` line after it is not needed), and both after
 * `duration: … ms  ` when `log_min_duration_statement` logs them. Not kept: `parse`/`bind` lines
 * (the same statement again), `STATEMENT:` lines (repeats of a failed statement), and every other
 * message.
 */
import type { CapturedStatement } from './captured-statement.js';
import type { LogLinePrefix } from './log-line-prefix.js';

/** What `readPostgresLog` found. */
export interface PostgresLogStatements {
  readonly statements: CapturedStatement[];
  /** Log entries read (any level, any database). */
  readonly entries: number;
  /** Statement entries of other databases, left out. */
  readonly otherDatabases: number;
}

const STATEMENT = /^(?:duration: [\d.]+ ms {2})?(?:statement: |execute [^:]*: )([\s\S]*)$/;

/**
 * The statements in `text`, one per log entry, each with `calls` = 1. When `database` is given and
 * the prefix has `%d`, only that database's statements are kept.
 *
 * @example readPostgresLog(readFileSync('postgresql.log', 'utf8'), compileLogLinePrefix('%m [%p] %q%u@%d '), 'app')
 */
export function readPostgresLog(
  text: string,
  prefix: LogLinePrefix,
  database?: string,
): PostgresLogStatements {
  const statements: CapturedStatement[] = [];
  let entries = 0;
  let otherDatabases = 0;
  let current:
    | { user: string | undefined; database: string | undefined; level: string; lines: string[] }
    | undefined;
  const finish = (): void => {
    if (current === undefined || current.level !== 'LOG' || current.user === undefined) return;
    const match = STATEMENT.exec(current.lines.join('\n'));
    if (match === null) return;
    if (database !== undefined && prefix.hasDatabase && current.database !== database) {
      otherDatabases += 1;
      return;
    }
    statements.push({ role: current.user, sql: (match[1] ?? '').trimEnd(), calls: 1 });
  };
  for (const line of text.split(/\r?\n/)) {
    const groups = line.startsWith('\t') ? undefined : prefix.pattern.exec(line)?.groups;
    if (groups === undefined) {
      current?.lines.push(line.startsWith('\t') ? line.slice(1) : line);
      continue;
    }
    finish();
    entries += 1;
    current = {
      user: groups.user === '' ? undefined : groups.user,
      database: groups.database,
      level: groups.level ?? '',
      lines: [groups.message ?? ''],
    };
  }
  finish();
  return { statements, entries, otherDatabases };
}
