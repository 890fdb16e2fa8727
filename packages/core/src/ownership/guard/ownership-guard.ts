/**
 * The ownership guard: what SQLite can do instead of roles. SQLite has no users or grants, so any
 * code that opens a service's file may write any table in it. The guard reads each statement
 * before it runs — with PostgreSQL's own parser, after `splitSqliteStatements` — and refuses one
 * that writes (INSERT, UPDATE, DELETE, UPSERT, REPLACE, TRUNCATE-like DELETE, DDL) a table the
 * manifest does not let the service write: it throws `OWNERSHIP_VIOLATION` and nothing runs.
 * Reads pass. Converge's own tables (`converge_*`: outbox, inbox, dead letters) are always allowed.
 *
 * What it cannot see (docs/ownership-enforcement.md): statements sent through a handle it does not
 * wrap (the raw better-sqlite3 `Database` kept elsewhere, another connection, the sqlite3 shell),
 * what triggers do when a statement fires them, and tables of an attached database (refused,
 * since their file is unknown). A statement it cannot parse is refused, not guessed at.
 */
import { ConvergeError } from '../../core/errors.js';
import type { Transaction } from '../../ports/storage.js';
import { declaredAccess } from '../inference/declared-access.js';
import { loadSqlParser, type SqlParser } from '../inference/sql-parser.js';
import { type TableOperation, tableAccessOf } from '../inference/table-access.js';
import type { Manifest } from '../manifest.js';
import { splitSqliteStatements } from './sqlite-statements.js';

/** Options of `createOwnershipGuard`. */
export interface OwnershipGuardOptions {
  /** A sound manifest (`parseManifest`). */
  readonly manifest: Manifest;
  /** The service whose writes are checked: the one that owns the SQLite file. */
  readonly service: string;
}

/** A table a statement writes, as the guard read it. */
export interface GuardedWrite {
  readonly table: string;
  readonly operation: TableOperation;
}

/** The part of a better-sqlite3 `Database` the guard intercepts: `prepare` and `exec`. */
export interface GuardableDatabase {
  prepare(sql: string, ...rest: never[]): unknown;
  exec(sql: string): unknown;
}

/** Checks statements against what one service may write. */
export interface OwnershipGuard {
  readonly service: string;
  /** The tables `sql` (one or more statements) writes. @throws `OWNERSHIP_GUARD_UNPARSABLE`. */
  writes(sql: string): GuardedWrite[];
  /**
   * Throws unless the service may write every table `sql` writes.
   * @throws ConvergeError `OWNERSHIP_VIOLATION` (naming service, table, owner and remedy), or
   *   `OWNERSHIP_GUARD_UNPARSABLE` for a statement PostgreSQL's parser cannot read.
   */
  check(sql: string): void;
  /** `tx` with every `query` and `execute` checked first; its `raw` database wrapped as by `database`. */
  transaction<Raw>(tx: Transaction<Raw>): Transaction<Raw>;
  /** `db` (a better-sqlite3 `Database`) whose `prepare` and `exec` check their SQL first. */
  database<D extends GuardableDatabase>(db: D): D;
}

/** Converge's own tables in SQLite; its outbox and inbox write them inside the service's transactions. */
const CONVERGE_TABLE_PREFIX = 'converge_';
/** Statements that never write a table's rows or definition (SQLite's transaction control and PRAGMA). */
const NO_TABLE_WRITES: ReadonlySet<string> = new Set([
  'BEGIN',
  'COMMIT',
  'END',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'PRAGMA',
  'ANALYZE',
]);
/** The schemas of a SQLite connection's own file. */
const OWN_SCHEMAS: ReadonlySet<string | undefined> = new Set([undefined, 'main', 'temp']);
/** Checked statements remembered per guard, by text; cleared when full. */
const CACHE_LIMIT = 1_000;

/**
 * A guard for `service`'s SQLite database. Loads the SQL parser (WebAssembly) once.
 *
 * @throws ConvergeError `OWNERSHIP_SERVICE_NOT_FOUND` when the manifest has no such service.
 * @example
 * const guard = await createOwnershipGuard({ manifest, service: 'inventory' });
 * await storage.transaction(async (tx) => {
 *   const guarded = guard.transaction(tx);
 *   await guarded.execute('UPDATE stock SET count = count - 1 WHERE sku = ?', [sku]); // owned: runs
 *   await guarded.execute('UPDATE product SET price = 0');                          // throws OWNERSHIP_VIOLATION
 * });
 */
export async function createOwnershipGuard(options: OwnershipGuardOptions): Promise<OwnershipGuard> {
  const { manifest, service } = options;
  if (!manifest.services.some((candidate) => candidate.name === service)) {
    throw new ConvergeError(
      'OWNERSHIP_SERVICE_NOT_FOUND',
      `The manifest declares no service '${service}'; its services are: ${manifest.services.map((s) => s.name).join(', ')}.`,
      { details: { service } },
    );
  }
  const parser = await loadSqlParser();
  const tables = tablesByName(manifest);
  const checked = new Map<string, true>();
  const writes = (sql: string): GuardedWrite[] => writesOf(parser, service, sql);
  const check = (sql: string): void => {
    if (checked.has(sql)) return;
    for (const write of writes(sql)) refuseUnlessAllowed(write, service, tables);
    if (checked.size >= CACHE_LIMIT) checked.clear();
    checked.set(sql, true);
  };
  const database = <D extends GuardableDatabase>(db: D): D => guardDatabase(db, check);
  return Object.freeze({
    service,
    writes,
    check,
    database,
    transaction<Raw>(tx: Transaction<Raw>): Transaction<Raw> {
      return Object.freeze({
        isTransaction: true as const,
        raw: isGuardable(tx.raw) ? (database(tx.raw) as Raw) : tx.raw,
        async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
          check(sql);
          return tx.query<Row>(sql, params);
        },
        async execute(sql: string, params?: readonly unknown[]): Promise<number> {
          check(sql);
          return tx.execute(sql, params);
        },
      });
    },
  });
}

function writesOf(parser: SqlParser, service: string, sql: string): GuardedWrite[] {
  const found: GuardedWrite[] = [];
  for (const statement of splitSqliteStatements(sql)) {
    if (NO_TABLE_WRITES.has(statement.keyword)) continue;
    let parsed: ReturnType<SqlParser['parse']>;
    try {
      parsed = parser.parse(statement.postgres);
    } catch (cause) {
      throw new ConvergeError(
        'OWNERSHIP_GUARD_UNPARSABLE',
        `Service '${service}': the ownership guard cannot read the statement '${excerpt(statement.text)}' (${(cause as Error).message}), so it does not run it. Write it in SQL that PostgreSQL's parser also reads, or run it outside the guard (migrations run on the unguarded connection).`,
        { cause, details: { service } },
      );
    }
    for (const reference of tableAccessOf(parsed)) {
      if (reference.access !== 'write') continue;
      const table = reference.schema === undefined ? reference.name : `${reference.schema}.${reference.name}`;
      if (!OWN_SCHEMAS.has(reference.schema)) {
        throw violation(
          service,
          table,
          reference.operation,
          `it is in the attached database '${reference.schema}', whose owner the guard cannot know`,
        );
      }
      found.push({ table: reference.name, operation: reference.operation });
    }
  }
  return found;
}

interface DeclaredWriters {
  readonly writers: ReadonlySet<string>;
  readonly owners: readonly string[];
  readonly declaredAs: string;
}

/** The manifest's tables by name alone: a SQLite file has no schemas. */
function tablesByName(manifest: Manifest): Map<string, DeclaredWriters> {
  const byName = new Map<string, { writers: Set<string>; owners: Set<string>; declaredAs: string[] }>();
  for (const declared of declaredAccess(manifest).values()) {
    const name = declared.table.slice(declared.table.indexOf('.') + 1);
    const entry = byName.get(name) ?? { writers: new Set(), owners: new Set(), declaredAs: [] };
    for (const writer of declared.writers) entry.writers.add(writer);
    for (const owner of declared.owners) entry.owners.add(owner);
    entry.declaredAs.push(declared.declaredAs);
    byName.set(name, entry);
  }
  return new Map(
    [...byName].map(([name, entry]) => [
      name,
      { writers: entry.writers, owners: [...entry.owners], declaredAs: entry.declaredAs.join('; ') },
    ]),
  );
}

function refuseUnlessAllowed(
  write: GuardedWrite,
  service: string,
  tables: ReadonlyMap<string, DeclaredWriters>,
): void {
  if (write.table.startsWith(CONVERGE_TABLE_PREFIX)) return;
  const declared = tables.get(write.table);
  if (declared?.writers.has(service) === true) return;
  const why =
    declared === undefined
      ? 'no service owns it in the manifest; declare it under the service that writes it'
      : `it is ${declared.declaredAs}; ask ${declared.owners.join(' or ')} to write it (send a message or call its API)`;
  throw violation(service, write.table, write.operation, why, declared?.owners ?? []);
}

function violation(
  service: string,
  table: string,
  operation: TableOperation,
  why: string,
  owners: readonly string[] = [],
): ConvergeError {
  return new ConvergeError(
    'OWNERSHIP_VIOLATION',
    `Service '${service}' may not write table '${table}' (${operation}): ${why}. Nothing was run. If the manifest is what is wrong, change converge.yaml and run 'converge ownership check'.`,
    { details: { service, table, operation, owners: [...owners] } },
  );
}

function guardDatabase<D extends GuardableDatabase>(db: D, check: (sql: string) => void): D {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (sql: string, ...rest: never[]) => {
          check(sql);
          return target.prepare(sql, ...rest);
        };
      }
      if (property === 'exec') {
        return (sql: string) => {
          check(sql);
          target.exec(sql);
          // better-sqlite3's exec returns the database, for chaining: keep chaining guarded.
          return guardDatabase(target, check);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function isGuardable(raw: unknown): raw is GuardableDatabase {
  const candidate = raw as Partial<GuardableDatabase> | null;
  return typeof candidate?.prepare === 'function' && typeof candidate.exec === 'function';
}

function excerpt(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ');
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
