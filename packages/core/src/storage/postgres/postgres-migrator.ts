import { maskSecrets } from '../../core/database-url.js';
import { ConvergeError } from '../../core/errors.js';
import { assertSchemaNotNewer } from '../../core/schema-version.js';
import type { MigrationReport, MigrationStep } from '../../ports/storage.js';
import { MIGRATE_LOCK_KEY } from './advisory-lock-key.js';
import type { PgConnection } from './pg-connection.js';
import { toNumber } from './pg-connection.js';
import type { PgSession } from './pg-session.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-migrations.js';

type Query = (sql: string, params?: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** The highest applied version in `converge.schema_migrations`, 0 when the table does not exist. */
export async function readPostgresSchemaVersion(query: Query): Promise<number> {
  const { rows } = await query("SELECT to_regclass('converge.schema_migrations') IS NOT NULL AS present");
  if (rows[0]?.present !== true) return 0;
  const versions = await query('SELECT max(version) AS version FROM converge.schema_migrations');
  return toNumber(versions.rows[0]?.version ?? 0);
}

/**
 * Brings schema `converge` to the newest version.
 *
 * Concurrency: the whole run holds a session-level advisory lock (`MIGRATE_LOCK_KEY`) on one
 * dedicated connection, and reads the current version only once it holds the lock. A second
 * process calling `migrate` at the same time waits for the first, then finds nothing to do. If this
 * process dies, PostgreSQL ends its session and the lock goes with it. Each step commits in its
 * own transaction with its `schema_migrations` row, so a failed step leaves the earlier ones
 * applied and itself not at all.
 *
 * A dry run takes no lock and changes nothing: it reports the steps that would run, with their SQL.
 *
 * @throws ConvergeError `MIGRATION_FAILED` naming the step, the database and PostgreSQL's error.
 */
export async function migratePostgres(
  connection: PgConnection,
  description: string,
  options: { readonly dryRun?: boolean } = {},
): Promise<MigrationReport> {
  const dryRun = options.dryRun === true;
  const session = await connection.checkout();
  try {
    if (!dryRun) await session.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATE_LOCK_KEY]);
    const fromVersion = await readPostgresSchemaVersion((sql, params) => session.query(sql, params));
    assertSchemaNotNewer(description, fromVersion, POSTGRES_SCHEMA_VERSION);
    const steps = POSTGRES_MIGRATIONS.filter((step) => step.version > fromVersion);
    if (!dryRun) {
      for (const step of steps) await applyStep(session, step, description);
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATE_LOCK_KEY]);
    }
    session.release();
    return Object.freeze({
      fromVersion,
      toVersion: dryRun ? fromVersion : Math.max(fromVersion, POSTGRES_SCHEMA_VERSION),
      latestVersion: POSTGRES_SCHEMA_VERSION,
      steps: Object.freeze([...steps]),
      dryRun,
    });
  } catch (error) {
    // Destroying the connection also ends the session and with it the advisory lock.
    session.release(error instanceof Error ? error : true);
    throw error;
  }
}

async function applyStep(session: PgSession, step: MigrationStep, description: string): Promise<void> {
  try {
    await session.query('BEGIN');
    await session.query(step.sql);
    await session.query('INSERT INTO converge.schema_migrations (version, name) VALUES ($1, $2)', [
      step.version,
      step.name,
    ]);
    await session.query('COMMIT');
  } catch (cause) {
    throw new ConvergeError(
      'MIGRATION_FAILED',
      `Converge migration ${step.version} '${step.name}' failed on database ${description}: ${maskSecrets((cause as Error).message)}. Nothing of this step was applied; fix the cause (often: the user lacks CREATE on the database) and run 'converge migrate' again.`,
      { cause, details: { version: step.version, name: step.name } },
    );
  }
}
