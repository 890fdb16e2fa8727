/**
 * What the engines need from a database. Each adapter (SQLite, PostgreSQL) implements these
 * interfaces once, with its own SQL; engines only ever see these types and branch on
 * `StorageCapabilities` flags, never on a backend's name.
 */
import type { CommandReplyStore } from './command-reply-store.js';
import type { EvidenceStore } from './evidence-store.js';
import type { IdempotencyStore } from './idempotency-store.js';
import type { InboxStore } from './inbox-store.js';
import type { LogStore } from './log-store.js';
import type { OutboxStore } from './outbox-store.js';
import type { PendingMarkerStore } from './pending-marker-store.js';
import type { SagaStore } from './saga-store.js';

/** Runs SQL in the adapter's own dialect and placeholder style (`$1` for PostgreSQL, `?` for SQLite). */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/**
 * A handle on an open database transaction. The `isTransaction: true` brand means a plain
 * connection cannot be passed where the outbox must join the caller's transaction.
 */
export interface Transaction<Raw = unknown> extends SqlExecutor {
  readonly isTransaction: true;
  /** The driver's own connection inside the transaction (a pg client, a better-sqlite3 Database). */
  readonly raw: Raw;
}

/** What a backend can do, declared once. */
export interface StorageCapabilities {
  /** Row locks that other readers skip (`FOR UPDATE SKIP LOCKED`). */
  readonly skipLocked: boolean;
  /** Commit-time notifications (`LISTEN/NOTIFY`), so relays wake without polling. */
  readonly notifications: boolean;
  /** Several connections may write at the same time (otherwise writers take turns). */
  readonly multipleConnections: boolean;
  /**
   * A failed statement aborts the whole transaction (PostgreSQL). When false (SQLite), only the
   * statement is undone and the caller could still commit, so multi-statement writes that must be
   * all-or-nothing run inside a SAVEPOINT.
   */
  readonly errorAbortsTransaction: boolean;
}

/** One applied (or, in a dry run, pending) migration. */
export interface MigrationStep {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationReport {
  /** Schema version before the call. 0 when Converge's tables did not exist. */
  readonly fromVersion: number;
  /** Schema version after the call (equal to `fromVersion` in a dry run). */
  readonly toVersion: number;
  /** The newest version this build knows. */
  readonly latestVersion: number;
  /** Migrations applied, or that would be applied in a dry run, in order. */
  readonly steps: readonly MigrationStep[];
  readonly dryRun: boolean;
}

/** The notification channel the outbox signals on commit (when `notifications` is true). */
export const OUTBOX_CHANNEL = 'converge_outbox';
/** The notification channel the SQL log signals on commit (when `notifications` is true). */
export const LOG_CHANNEL = 'converge_log';
/** The notification channel a new saga signals on commit (when `notifications` is true), so orchestrators claim it at once. */
export const SAGA_CHANNEL = 'converge_saga';

/**
 * One database, as Converge uses it: transactions, migrations and the per-feature stores.
 * Created by an adapter factory (`createSqliteStorage`, `createPostgresStorage`).
 */
export interface Storage {
  readonly capabilities: StorageCapabilities;
  /** Where this storage points, safe to print (passwords masked). */
  readonly description: string;
  /** Runs `work` in a new transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * Brings Converge's own tables to the latest version. Safe when several processes call it at
   * once. With `dryRun`, changes nothing and reports the SQL that would run.
   * @throws ConvergeError `SCHEMA_TOO_NEW` when a newer Converge already migrated this database
   *   (nothing is changed), `MIGRATION_FAILED` naming the step that failed (that step is rolled back).
   */
  migrate(options?: { readonly dryRun?: boolean }): Promise<MigrationReport>;
  /**
   * Checks that the schema is at the version this build knows.
   * @throws ConvergeError `SCHEMA_TOO_NEW` (a newer Converge migrated this database) or
   *   `SCHEMA_OUT_OF_DATE` (run `converge migrate`).
   */
  assertSchemaCurrent(): Promise<void>;
  /**
   * Calls `onNotify` whenever `channel` is signalled. Only when `capabilities.notifications`.
   * Resolves to a function that stops listening. Rejects when the first subscription cannot be
   * made (callers fall back to polling); once subscribed, a lost connection is re-established in
   * the background and `onNotify` is called once after each reconnect, since notifications sent
   * while disconnected are lost.
   */
  listen?(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  readonly outbox: OutboxStore;
  readonly inbox: InboxStore;
  readonly log: LogStore;
  /** What Converge recorded here that shows coupling between services (read by `ownership coupling`). */
  readonly evidence: EvidenceStore;
  /** The sagas this database orchestrates: instances, leases and their transition logs. */
  readonly sagas: SagaStore;
  /** Participant idempotency keys with their stored responses (see `runIdempotent`). */
  readonly idempotency: IdempotencyStore;
  /** Participants' pending markers: rows changed by a saga not yet ended (see `PendingMarkerStore`). */
  readonly pendingMarkers: PendingMarkerStore;
  /**
   * Replies to the commands this database's sagas sent, recorded in the reply's inbox transaction
   * (see `CommandReplyStore`).
   */
  readonly commandReplies: CommandReplyStore;
  /** Closes connections this storage opened itself (never the caller's own pool or database). */
  close(): Promise<void>;
}
