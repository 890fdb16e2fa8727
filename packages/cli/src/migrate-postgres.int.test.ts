/**
 * `converge migrate` against a fresh PostgreSQL database, as a real process. Skipped with a loud
 * warning when PostgreSQL is unreachable; failing instead under CI (`CI=true`).
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../core/src/storage/postgres/postgres-migrations.js';
import { createPostgresTestDatabase } from '../../core/src/testing/postgres-test-database.js';
import { runConverge } from '../test/run-converge.js';

/** The newest version, as this build's library declares it. */
const LATEST = POSTGRES_MIGRATIONS.length;

const database = await createPostgresTestDatabase('converge migrate on PostgreSQL');
afterAll(async () => {
  await database?.drop();
});

async function schemaVersions(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const present = await client.query(
      "SELECT to_regclass('converge.schema_migrations') IS NOT NULL AS present",
    );
    if (present.rows[0]?.present !== true) return [];
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM converge.schema_migrations ORDER BY version',
    );
    return rows.map((row) => Number(row.version));
  } finally {
    await client.end();
  }
}

describe.skipIf(database === null)('converge migrate on PostgreSQL', () => {
  const url = database?.url ?? '';

  it('with --dry-run, prints the pending SQL and applies nothing', async () => {
    const run = await runConverge(['migrate', '--dry-run', '--database', url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^-- Database postgres://.*: at version 0; migrating would bring it to version ${LATEST} `),
    );
    expect(run.stdout).toContain('CREATE SCHEMA IF NOT EXISTS converge;');
    expect(await schemaVersions(url)).toEqual([]);
  });

  it('migrates a fresh database, then finds nothing to do', async () => {
    const first = await runConverge(['migrate', '--database', url]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(
      new RegExp(
        `^Database postgres://.*: migrated from version 0 to ${LATEST} \\(${LATEST} steps: 1 '.*'\\)\\.\\n$`,
      ),
    );
    expect(await schemaVersions(url)).toEqual(POSTGRES_MIGRATIONS.map((step) => step.version));

    const second = await runConverge(['migrate', '--json', '--database', url]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({
      database: url,
      fromVersion: LATEST,
      toVersion: LATEST,
      latestVersion: LATEST,
      steps: [],
      dryRun: false,
    });
    expect(second.stderr).toContain(`already at version ${LATEST}, nothing to do.`);
  });

  it('exits 1 without the password when the server answers but the database does not exist', async () => {
    const password = 'An0therS3cret';
    const target = new URL(url);
    target.password = password;
    target.pathname = '/converge_no_such_database';
    const run = await runConverge(['migrate', '--database', target.toString()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('converge: Cannot connect to database postgres://');
    expect(run.stderr).toContain('converge_no_such_database');
    expect(run.stdout + run.stderr).not.toContain(password);
  });
});
