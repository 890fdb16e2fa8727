/** `converge migrate` on SQLite files, as a real process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS } from '../../core/src/storage/sqlite/sqlite-migrations.js';
import { runConverge } from '../test/run-converge.js';

/** The newest version, and every step, as this build's library declares them. */
const LATEST = SQLITE_MIGRATIONS.length;
const STEPS = SQLITE_MIGRATIONS.map((step) => `${step.version} '${step.name}'`).join(', ');

const dir = mkdtempSync(join(tmpdir(), 'converge-migrate-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A path for a database file that does not exist yet. */
function freshFile(): string {
  files += 1;
  return join(dir, `db-${files}.db`);
}

function convergeTables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'converge%' ORDER BY name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

describe('converge migrate on SQLite', () => {
  it('migrates a fresh file to the latest version, then finds nothing to do', async () => {
    const file = freshFile();
    const first = await runConverge(['migrate', '--database', `sqlite:${file}`]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(
      `Database sqlite:${file}: migrated from version 0 to ${LATEST} (${LATEST} steps: ${STEPS}).\n`,
    );
    expect(convergeTables(file)).toEqual(
      expect.arrayContaining(['converge_outbox', 'converge_schema_migrations']),
    );

    const second = await runConverge(['migrate', '--database', `sqlite:${file}`]);
    expect(second).toMatchObject({
      code: 0,
      stdout: `Database sqlite:${file}: already at version ${LATEST}, nothing to do.\n`,
      stderr: '',
    });
  });

  it('with --dry-run, prints the SQL of the pending steps and creates no Converge table', async () => {
    const file = freshFile();
    const run = await runConverge(['migrate', '--dry-run', '--database', `sqlite:${file}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^-- Database sqlite:.*: at version 0; migrating would bring it to version ${LATEST} `),
    );
    expect(run.stdout).toContain(
      '-- Step 1: outbox, inbox, dead letters, SQL log\nCREATE TABLE converge_outbox (',
    );
    expect(convergeTables(file)).toEqual([]);

    await runConverge(['migrate', '--database', `sqlite:${file}`]);
    const after = await runConverge(['migrate', '--dry-run', '--database', `sqlite:${file}`]);
    expect(after.stdout).toBe(
      `-- Database sqlite:${file}: already at version ${LATEST}, nothing to do (dry run).\n`,
    );
  });

  it('with --json, prints only the report and the database as JSON on stdout', async () => {
    const file = freshFile();
    const run = await runConverge(['migrate', '--json', '--database', `sqlite:${file}`]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toEqual({
      database: `sqlite:${file}`,
      fromVersion: 0,
      toVersion: LATEST,
      latestVersion: LATEST,
      steps: SQLITE_MIGRATIONS.map((step) => ({ version: step.version, name: step.name, sql: step.sql })),
      dryRun: false,
    });
    expect(run.stderr).toContain(`migrated from version 0 to ${LATEST}`);

    const dryRun = await runConverge(['migrate', '--json', '--dry-run', '--database', `sqlite:${file}`]);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({
      fromVersion: LATEST,
      toVersion: LATEST,
      steps: [],
      dryRun: true,
    });
  });

  it('exits 2 without changing anything when a newer Converge migrated the file', async () => {
    const file = freshFile();
    await runConverge(['migrate', '--database', `sqlite:${file}`]);
    const db = new Database(file);
    db.prepare(
      "INSERT INTO converge_schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
    ).run(LATEST + 1);
    db.close();

    const run = await runConverge(['migrate', '--database', `sqlite:${file}`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `converge: Database sqlite:${file} has Converge schema version ${LATEST + 1}, newer than version ${LATEST}`,
    );

    const json = await runConverge(['migrate', '--json', '--database', `sqlite:${file}`]);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'SCHEMA_TOO_NEW', exitCode: 2 } });
  });

  it('exits 2 when the file cannot be opened', async () => {
    const run = await runConverge(['migrate', '--database', `sqlite:${join(dir, 'missing-dir', 'x.db')}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^converge: Cannot open SQLite database '.*missing-dir.*x\.db'/);
  });
});
