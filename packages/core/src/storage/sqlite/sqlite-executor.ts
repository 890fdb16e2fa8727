import { ConvergeError } from '../../core/errors.js';
import type { Transaction } from '../../ports/storage.js';
import type { SqliteDatabaseLike, SqliteStatementLike } from './sqlite-database-like.js';

/** Prepared statements, cached per connection by their text. */
export class StatementCache {
  readonly #db: SqliteDatabaseLike;
  readonly #statements = new Map<string, SqliteStatementLike>();

  constructor(db: SqliteDatabaseLike) {
    this.#db = db;
  }

  get db(): SqliteDatabaseLike {
    return this.#db;
  }

  prepare(sql: string): SqliteStatementLike {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  all<Row>(sql: string, params: readonly unknown[] = []): Row[] {
    return this.prepare(sql).all(...params) as Row[];
  }

  get<Row>(sql: string, params: readonly unknown[] = []): Row | undefined {
    return this.prepare(sql).get(...params) as Row | undefined;
  }

  run(sql: string, params: readonly unknown[] = []): number {
    return this.prepare(sql).run(...params).changes;
  }
}

/** A `Transaction` handle over a SQLite connection that is inside a transaction. */
export function sqliteTransactionHandle(statements: StatementCache): Transaction<SqliteDatabaseLike> {
  return Object.freeze({
    isTransaction: true as const,
    raw: statements.db,
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
      const statement = statements.prepare(sql);
      if (statement.reader) return statement.all(...params) as Row[];
      statement.run(...params);
      return [];
    },
    async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
      return statements.run(sql, params);
    },
  });
}

/**
 * Wraps your own better-sqlite3 connection, already inside `BEGIN`, as a `Transaction`, so that
 * `outbox.append(tx, …)` joins your transaction.
 *
 * @throws ConvergeError `OUTBOX_APPEND_OUTSIDE_TRANSACTION` when the connection is not in a transaction.
 * @example
 * db.exec('BEGIN IMMEDIATE');
 * db.prepare('UPDATE customer SET status = ? WHERE id = ?').run('unsubscribed', id);
 * await outbox.append(sqliteTransaction(db), [{ type: 'customer.unsubscribed', key: id, data: { id } }]);
 * db.exec('COMMIT');
 */
export function sqliteTransaction(db: SqliteDatabaseLike): Transaction<SqliteDatabaseLike> {
  if (!db.inTransaction) {
    throw new ConvergeError(
      'OUTBOX_APPEND_OUTSIDE_TRANSACTION',
      `SQLite connection '${db.name}' is not inside a transaction; run 'BEGIN IMMEDIATE' first so the message commits with your change.`,
    );
  }
  let statements = userStatements.get(db);
  if (statements === undefined) {
    statements = new StatementCache(db);
    userStatements.set(db, statements);
  }
  return sqliteTransactionHandle(statements);
}

const userStatements = new WeakMap<SqliteDatabaseLike, StatementCache>();
