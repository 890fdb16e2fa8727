/**
 * Schema version 3 on a database that already has receipts (version 2): the migration adds the
 * payload hash without touching existing rows, which read back with an unknown hash (null), so the
 * inbox gives them the benefit of the doubt at their own position (test/duplicate-id-conflict).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../packages/core/src/index.js';
import { createPostgresStorage } from '../packages/core/src/storage/postgres/index.js';
import { POSTGRES_MIGRATIONS } from '../packages/core/src/storage/postgres/postgres-migrations.js';
import { createSqliteStorage } from '../packages/core/src/storage/sqlite/index.js';
import { SQLITE_MIGRATIONS } from '../packages/core/src/storage/sqlite/sqlite-migrations.js';
import { createPostgresTestDatabase } from '../packages/core/src/testing/postgres-test-database.js';
import { availableBackends } from './support/backends.js';

const backends = (await availableBackends()).map((backend) => backend.name);
const RECEIPT = ['billing', 'm-1', 'orders', 'a', 1, 'applied'] as const;

/** A version-2 database holding one receipt, and how to open it with this build. */
async function versionTwoDatabase(
  backend: 'sqlite' | 'postgres',
): Promise<{ open(): Storage; cleanup(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'converge-upgrade-'));
    const path = join(dir, 'consumer.db');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE converge_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const step of SQLITE_MIGRATIONS.filter((s) => s.version <= 2)) {
      db.exec(step.sql);
      db.prepare('INSERT INTO converge_schema_migrations VALUES (?, ?, 0)').run(step.version, step.name);
    }
    db.prepare(
      'INSERT INTO converge_inbox_receipt (consumer, message_id, source, key, sequence, outcome, received_at) VALUES (?, ?, ?, ?, ?, ?, 0)',
    ).run(...RECEIPT);
    db.close();
    return {
      open: () => createSqliteStorage({ path }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const database = (await createPostgresTestDatabase())!;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  for (const step of POSTGRES_MIGRATIONS.filter((s) => s.version <= 2)) {
    await client.query(step.sql);
    await client.query('INSERT INTO converge.schema_migrations (version, name) VALUES ($1, $2)', [
      step.version,
      step.name,
    ]);
  }
  await client.query(
    'INSERT INTO converge.inbox_receipt (consumer, message_id, source, key, sequence, outcome) VALUES ($1, $2, $3, $4, $5, $6)',
    [...RECEIPT],
  );
  await client.end();
  return { open: () => createPostgresStorage({ connectionString: database.url }), cleanup: database.drop };
}

describe.each(backends)('schema upgrade to version 3 on %s', (backend) => {
  it('adds the payload hash; receipts written before read back with an unknown hash', async () => {
    const database = await versionTwoDatabase(backend);
    const storage = database.open();
    try {
      await expect(storage.assertSchemaCurrent()).rejects.toMatchObject({ code: 'SCHEMA_OUT_OF_DATE' });
      const report = await storage.migrate();
      expect(report).toMatchObject({ fromVersion: 2, toVersion: 3 });
      expect(report.steps.map((step) => step.version)).toEqual([3]);
      await storage.assertSchemaCurrent();
      const receipt = await storage.transaction((tx) => storage.inbox.findReceipt(tx, 'billing', 'm-1'));
      expect(receipt).toEqual({
        messageId: 'm-1',
        source: 'orders',
        key: 'a',
        sequence: 1,
        outcome: 'applied',
        payloadHash: null,
      });
    } finally {
      await storage.close();
      await database.cleanup();
    }
  });
});
