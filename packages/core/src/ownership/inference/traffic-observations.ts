/**
 * Attributes the reads and writes of captured statements to services: each statement is parsed
 * with PostgreSQL's parser, each table it names is resolved to `schema.table` for the role that ran
 * it, and the role is mapped to its service. The result is one row per (table, role, access) with
 * how many distinct statements and how many executions did it. A statement that does not parse is
 * counted and kept as an example, never fatal.
 */
import type { CapturedStatement, TrafficSource } from './captured-statement.js';
import type { RoleMapping } from './role-mapping.js';
import type { SqlParser } from './sql-parser.js';
import { type Access, type TableOperation, tableAccessOf } from './table-access.js';
import type { TableResolver } from './table-resolver.js';

/** One (table, role, access) pair seen in the traffic. */
export interface TableAccessObservation {
  /** `schema.table`. */
  readonly table: string;
  readonly role: string;
  readonly service: string;
  readonly access: Access;
  /** What the statements did to it, sorted. */
  readonly operations: readonly TableOperation[];
  /** Distinct statement texts. */
  readonly statements: number;
  /** Executions (`pg_stat_statements.calls`; one per log line). */
  readonly calls: number;
  /** The first statement seen doing it, cut to `EXAMPLE_CHARS`. */
  readonly example: string;
}

/** A statement the parser rejected. */
export interface UnparsableStatement {
  readonly role: string;
  readonly sql: string;
  readonly error: string;
}

/** A role whose statements were left out, and why. */
export interface IgnoredRole {
  readonly role: string;
  readonly reason: 'superuser' | 'asked';
}

/** Everything inference saw, before any manifest is consulted. */
export interface TrafficObservations {
  readonly source: TrafficSource;
  /** The database the statements ran on (masked URL or name, as the caller gives it). */
  readonly database: string;
  readonly statements: {
    readonly total: number;
    readonly parsed: number;
    readonly unparsable: number;
    /** Statements of ignored roles, not parsed. */
    readonly ignored: number;
  };
  /** Up to `MAX_UNPARSABLE_EXAMPLES` of the statements that did not parse. */
  readonly unparsable: readonly UnparsableStatement[];
  /** Each role seen (ignored ones included) and the service it maps to. */
  readonly roles: readonly {
    readonly role: string;
    readonly service: string;
    readonly ignored?: IgnoredRole['reason'];
  }[];
  /** Sorted by table, service, role, access. */
  readonly accesses: readonly TableAccessObservation[];
}

/** What `observeTraffic` takes. */
export interface ObserveTrafficOptions {
  readonly source: TrafficSource;
  readonly database: string;
  readonly statements: readonly CapturedStatement[];
  readonly parser: SqlParser;
  readonly resolveTable: TableResolver;
  readonly serviceOf: RoleMapping;
  /** Roles whose statements are left out (superusers, `--ignore-role`). */
  readonly ignoredRoles?: readonly IgnoredRole[];
}

export const EXAMPLE_CHARS = 200;
export const MAX_UNPARSABLE_EXAMPLES = 20;

/**
 * Parses and attributes `options.statements`.
 *
 * @example const observations = observeTraffic({ source: 'log', database: 'app', statements, parser, resolveTable: createTableResolver(catalog), serviceOf: createRoleMapping() });
 */
export function observeTraffic(options: ObserveTrafficOptions): TrafficObservations {
  const ignored = new Map((options.ignoredRoles ?? []).map((entry) => [entry.role, entry.reason]));
  const rows = new Map<string, MutableObservation>();
  const unparsable: UnparsableStatement[] = [];
  const roles = new Set<string>();
  let parsed = 0;
  let unparsableCount = 0;
  let ignoredCount = 0;
  for (const statement of options.statements) {
    roles.add(statement.role);
    if (ignored.has(statement.role)) {
      ignoredCount += 1;
      continue;
    }
    let references: ReturnType<typeof tableAccessOf>;
    try {
      references = tableAccessOf(options.parser.parse(statement.sql));
    } catch (error) {
      unparsableCount += 1;
      if (unparsable.length < MAX_UNPARSABLE_EXAMPLES) {
        unparsable.push({
          role: statement.role,
          sql: cut(statement.sql),
          error: error instanceof Error ? error.message : String(error),
        });
      }
      continue;
    }
    parsed += 1;
    const seen = new Set<string>();
    for (const reference of references) {
      const table = options.resolveTable(statement.role, reference);
      if (table === undefined) continue;
      const key = JSON.stringify([table, statement.role, reference.access]);
      const row = rows.get(key) ?? newRow(table, statement, reference.access, options.serviceOf);
      rows.set(key, row);
      row.operations.add(reference.operation);
      // A statement naming a table twice (a self-join) is still one statement, one execution.
      if (seen.has(key)) continue;
      seen.add(key);
      row.statements += 1;
      row.calls += statement.calls;
    }
  }
  return Object.freeze({
    source: options.source,
    database: options.database,
    statements: {
      total: options.statements.length,
      parsed,
      unparsable: unparsableCount,
      ignored: ignoredCount,
    },
    unparsable,
    roles: [...roles].sort().map((role) => {
      const reason = ignored.get(role);
      return { role, service: options.serviceOf(role), ...(reason === undefined ? {} : { ignored: reason }) };
    }),
    accesses: [...rows.values()]
      .map((row) => ({ ...row, operations: [...row.operations].sort() }))
      .sort(
        (a, b) =>
          compare(a.table, b.table) ||
          compare(a.service, b.service) ||
          compare(a.role, b.role) ||
          compare(a.access, b.access),
      ),
  });
}

type MutableObservation = Omit<TableAccessObservation, 'operations' | 'statements' | 'calls'> & {
  operations: Set<TableOperation>;
  statements: number;
  calls: number;
};

function newRow(
  table: string,
  statement: CapturedStatement,
  access: Access,
  serviceOf: RoleMapping,
): MutableObservation {
  return {
    table,
    role: statement.role,
    service: serviceOf(statement.role),
    access,
    operations: new Set(),
    statements: 0,
    calls: 0,
    example: cut(statement.sql),
  };
}

function cut(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length <= EXAMPLE_CHARS ? flat : `${flat.slice(0, EXAMPLE_CHARS - 1)}…`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
