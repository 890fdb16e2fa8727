import { maskSecrets, parseDatabaseUrl } from '../../core/database-url.js';
import { ConvergeError } from '../../core/errors.js';
import { assertSchemaVersion } from '../../core/schema-version.js';
import type { MigrationReport, Storage, StorageCapabilities, Transaction } from '../../ports/storage.js';
import { SqlCommandReplyStore } from '../sql-command-reply-store.js';
import { SqlIdempotencyStore } from '../sql-idempotency-store.js';
import { PgConnection, type PgConnectionSource } from './pg-connection.js';
import type { PgPoolLike } from './pg-like.js';
import { callerPoolSource, ownPoolSource } from './postgres-connection-sources.js';
import { PostgresEvidenceStore } from './postgres-evidence-store.js';
import { PostgresInboxStore } from './postgres-inbox-store.js';
import { PostgresListener } from './postgres-listener.js';
import { PostgresLogStore } from './postgres-log-store.js';
import { POSTGRES_SCHEMA_VERSION } from './postgres-migrations.js';
import { migratePostgres, readPostgresSchemaVersion } from './postgres-migrator.js';
import { PostgresOutboxStore } from './postgres-outbox-store.js';
import { postgresPendingMarkerStore } from './postgres-pending-marker-store.js';
import { PostgresSagaStore } from './postgres-saga-store.js';
import { postgresSqlDialect } from './postgres-sql-dialect.js';

/**
 * Where Converge's PostgreSQL storage gets its connections: a connection string (Converge opens
 * and closes its own `pg.Pool`) or your own pool (Converge never ends it).
 */
export type PostgresStorageOptions =
  | {
      /** `postgres://user:password@host:5432/db`. Requires the `pg` package. */
      readonly connectionString: string;
      /** Largest number of pooled connections. Default: pg's (10). Listeners use their own connection each. */
      readonly max?: number;
      /** Shown in `pg_stat_activity`. Default 'converge'. */
      readonly applicationName?: string;
      /** How long to wait for a new connection before failing. Default 10000 ms (pg's own default waits forever). */
      readonly connectionTimeoutMillis?: number;
    }
  | {
      /** Your `pg.Pool` (or anything shaped like one). `close()` leaves it open. */
      readonly pool: PgPoolLike;
    };

const CAPABILITIES: StorageCapabilities = Object.freeze({
  skipLocked: true,
  notifications: true,
  multipleConnections: true,
  errorAbortsTransaction: true,
});

/**
 * Converge's storage in PostgreSQL: outbox, inbox, dead letters and the SQL log, all in schema
 * `converge`. Several processes may share one database: relays split the outbox with
 * `FOR UPDATE SKIP LOCKED`, consumers serialize per key with row locks, migrations with an
 * advisory lock. Nothing connects until first use.
 *
 * @throws ConvergeError `DATABASE_URL_INVALID` when `connectionString` is not a PostgreSQL URL.
 * @example
 * const storage = createPostgresStorage({ connectionString: process.env.DATABASE_URL! });
 * await storage.migrate();
 * await storage.assertSchemaCurrent();
 * // … or with your own pg.Pool, so the outbox can join your transactions (see pgTransaction):
 * const shared = createPostgresStorage({ pool });
 */
export function createPostgresStorage(options: PostgresStorageOptions): Storage {
  const { source, description } = resolve(options);
  const connection = new PgConnection(source);
  const listeners = new Set<PostgresListener>();
  const dialect = postgresSqlDialect(connection);

  return Object.freeze({
    capabilities: CAPABILITIES,
    description,
    transaction: <T>(work: (tx: Transaction) => Promise<T>): Promise<T> => connection.transaction(work),
    migrate: (migrateOptions: { readonly dryRun?: boolean } = {}): Promise<MigrationReport> =>
      migratePostgres(connection, description, migrateOptions),
    async assertSchemaCurrent(): Promise<void> {
      const found = await readPostgresSchemaVersion((sql, params) => connection.query(sql, params));
      assertSchemaVersion(description, found, POSTGRES_SCHEMA_VERSION);
    },
    async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
      const listener = new PostgresListener(() => connection.openListener(), channel, onNotify);
      await listener.start();
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
        await listener.stop();
      };
    },
    outbox: new PostgresOutboxStore(connection),
    inbox: new PostgresInboxStore(connection),
    log: new PostgresLogStore(connection),
    evidence: new PostgresEvidenceStore(connection),
    sagas: new PostgresSagaStore(connection),
    idempotency: new SqlIdempotencyStore(dialect),
    pendingMarkers: postgresPendingMarkerStore(connection),
    commandReplies: new SqlCommandReplyStore(dialect),
    async close(): Promise<void> {
      const open = [...listeners];
      listeners.clear();
      await Promise.all(open.map((listener) => listener.stop()));
      await connection.close();
    },
  });
}

function resolve(options: PostgresStorageOptions): { source: PgConnectionSource; description: string } {
  if ('pool' in options) {
    return { source: callerPoolSource(options.pool), description: 'postgres (caller pool)' };
  }
  const parsed = parseDatabaseUrl(options.connectionString);
  if (parsed.kind !== 'postgres') {
    throw new ConvergeError(
      'DATABASE_URL_INVALID',
      `createPostgresStorage needs a PostgreSQL URL such as 'postgres://user:password@host:5432/db', not '${maskSecrets(options.connectionString)}'; for SQLite use createSqliteStorage.`,
      { details: { url: maskSecrets(options.connectionString) } },
    );
  }
  const resolved = Object.freeze({
    connectionString: parsed.url,
    max: options.max,
    applicationName: options.applicationName ?? 'converge',
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
  });
  return { source: ownPoolSource(resolved), description: maskSecrets(parsed.url) };
}
