import Database from 'better-sqlite3';
import { maskSecrets } from '../../core/database-url.js';
import { ConvergeError } from '../../core/errors.js';
import { AsyncMutex } from '../../core/mutex.js';
import { assertSchemaNotNewer, assertSchemaVersion } from '../../core/schema-version.js';
import type { MigrationReport, Storage, StorageCapabilities, Transaction } from '../../ports/storage.js';
import { SqlCommandReplyStore } from '../sql-command-reply-store.js';
import { SqlIdempotencyStore } from '../sql-idempotency-store.js';
import type { SqliteDatabaseLike } from './sqlite-database-like.js';
import { SqliteEvidenceStore } from './sqlite-evidence-store.js';
import { StatementCache, sqliteTransactionHandle } from './sqlite-executor.js';
import { SqliteInboxStore } from './sqlite-inbox-store.js';
import { SqliteLogStore } from './sqlite-log-store.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { SqliteOutboxStore } from './sqlite-outbox-store.js';
import { sqlitePendingMarkerStore } from './sqlite-pending-marker-store.js';
import { SqliteSagaStore } from './sqlite-saga-store.js';
import { sqliteSqlDialect } from './sqlite-sql-dialect.js';

export interface SqliteStorageOptions {
  /** A database file; created when missing. Or pass `database`. */
  readonly path?: string;
  /** Your own better-sqlite3 connection (Converge sets its pragmas and never closes it). */
  readonly database?: SqliteDatabaseLike;
  /** How long a writer waits for another process's write lock. Default 10000 ms. */
  readonly busyTimeoutMs?: number;
}

const CAPABILITIES: StorageCapabilities = Object.freeze({
  skipLocked: false,
  notifications: false,
  multipleConnections: false,
  errorAbortsTransaction: false,
});

/**
 * Serializes every use of one SQLite connection and runs write transactions with
 * `BEGIN IMMEDIATE`, so a transaction takes the file's write lock up front instead of failing on
 * upgrade. Several processes may share the file: WAL lets readers go on while one writes, and
 * `busy_timeout` makes writers wait their turn.
 */
export class SqliteConnection {
  readonly statements: StatementCache;
  readonly #mutex = new AsyncMutex();

  constructor(db: SqliteDatabaseLike) {
    this.statements = new StatementCache(db);
  }

  /** Runs synchronous work on the connection, outside any transaction of ours. */
  use<T>(work: (statements: StatementCache) => T): Promise<T> {
    return this.#mutex.run(() => work(this.statements));
  }

  /** Runs `work` inside `BEGIN IMMEDIATE … COMMIT`. */
  transaction<T>(
    work: (tx: Transaction<SqliteDatabaseLike>, statements: StatementCache) => Promise<T> | T,
  ): Promise<T> {
    return this.#mutex.run(async () => {
      const db = this.statements.db;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(sqliteTransactionHandle(this.statements), this.statements);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    });
  }
}

/**
 * Converge's storage in a SQLite file: no server at all. Sets WAL, `synchronous=FULL` (every
 * commit reaches the disk before it returns) and a busy timeout.
 *
 * @throws ConvergeError `SQLITE_OPEN_FAILED` when the file cannot be opened.
 * @example
 * const storage = createSqliteStorage({ path: 'data/customer.db' });
 * await storage.migrate();
 */
export function createSqliteStorage(options: SqliteStorageOptions): Storage {
  const ownsDatabase = options.database === undefined;
  const db = options.database ?? openFile(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 10_000))}`);
  const connection = new SqliteConnection(db);
  const dialect = sqliteSqlDialect(connection);
  const description = `sqlite:${maskSecrets(db.name)}`;
  const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;

  const readVersion = (statements: StatementCache): number => {
    const table = statements.get<{ n: number }>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'converge_schema_migrations'",
    );
    if (!table || table.n === 0) return 0;
    return (
      statements.get<{ v: number | null }>('SELECT max(version) AS v FROM converge_schema_migrations')?.v ?? 0
    );
  };

  return Object.freeze({
    capabilities: CAPABILITIES,
    description,
    transaction: <T>(work: (tx: Transaction) => Promise<T>) => connection.transaction((tx) => work(tx)),
    async migrate(migrateOptions: { readonly dryRun?: boolean } = {}): Promise<MigrationReport> {
      const dryRun = migrateOptions.dryRun === true;
      const run = (statements: StatementCache): MigrationReport => {
        const fromVersion = readVersion(statements);
        assertSchemaNotNewer(description, fromVersion, latest);
        const steps = SQLITE_MIGRATIONS.filter((step) => step.version > fromVersion);
        if (!dryRun) {
          statements.db.exec(
            'CREATE TABLE IF NOT EXISTS converge_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
          );
          for (const step of steps) {
            statements.db.exec(step.sql);
            statements.run(
              'INSERT INTO converge_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
              [step.version, step.name, Date.now()],
            );
          }
        }
        const toVersion = dryRun ? fromVersion : Math.max(fromVersion, latest);
        return { fromVersion, toVersion, latestVersion: latest, steps, dryRun };
      };
      return dryRun ? connection.use(run) : connection.transaction((_tx, statements) => run(statements));
    },
    async assertSchemaCurrent(): Promise<void> {
      const found = await connection.use(readVersion);
      assertSchemaVersion(description, found, latest);
    },
    outbox: new SqliteOutboxStore(connection),
    inbox: new SqliteInboxStore(connection),
    log: new SqliteLogStore(connection),
    evidence: new SqliteEvidenceStore(connection),
    sagas: new SqliteSagaStore(connection),
    idempotency: new SqlIdempotencyStore(dialect),
    pendingMarkers: sqlitePendingMarkerStore(connection),
    commandReplies: new SqlCommandReplyStore(dialect),
    async close(): Promise<void> {
      if (ownsDatabase) await connection.use((statements) => statements.db.close());
    },
  });
}

function openFile(path: string | undefined): SqliteDatabaseLike {
  if (path === undefined || path.length === 0) {
    throw new ConvergeError(
      'SQLITE_OPEN_FAILED',
      "createSqliteStorage needs 'path' (a database file) or 'database' (your connection).",
    );
  }
  try {
    return new Database(path) as unknown as SqliteDatabaseLike;
  } catch (cause) {
    throw new ConvergeError(
      'SQLITE_OPEN_FAILED',
      `Cannot open SQLite database '${path}': ${(cause as Error).message}. Check that the directory exists and is writable.`,
      { cause },
    );
  }
}
