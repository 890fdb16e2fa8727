import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MESSAGE_BYTES, draftToEnvelope, serializeEnvelope } from '../../core/envelope.js';
import type { Storage } from '../../ports/storage.js';
import {
  createPostgresTestDatabase,
  type PostgresTestDatabase,
} from '../../testing/postgres-test-database.js';
import { pgTransaction } from './pg-transaction.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-migrations.js';
import { createPostgresStorage } from './postgres-storage.js';

const databases: PostgresTestDatabase[] = [];
const first = await createPostgresTestDatabase('postgres storage (migrations, transactions)');
if (first) databases.push(first);

/** A fresh database for one test (migration tests need an empty one each). */
async function freshDatabase(): Promise<PostgresTestDatabase> {
  const db = await createPostgresTestDatabase();
  if (!db) throw new Error('PostgreSQL went away during the test run');
  databases.push(db);
  return db;
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(sql);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

function message(key: string, sequence: number) {
  const envelope = {
    ...draftToEnvelope({ type: 'customer.unsubscribed', key, data: { key } }, 0, 'customer', new Date()),
    sequence,
  };
  return { envelope, body: serializeEnvelope(envelope, 0, DEFAULT_MAX_MESSAGE_BYTES) };
}

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

describe.skipIf(!first)('PostgreSQL storage', () => {
  const storages: Storage[] = [];
  const open = (url: string): Storage => {
    const storage = createPostgresStorage({
      connectionString: url,
      applicationName: 'converge-storage-test',
    });
    storages.push(storage);
    return storage;
  };
  afterAll(async () => {
    await Promise.all(storages.map((s) => s.close()));
  });

  describe('migrations', () => {
    it('a fresh database is out of date; migrate brings it to the latest version; a second migrate does nothing', async () => {
      const db = await freshDatabase();
      const storage = open(db.url);
      await expect(storage.assertSchemaCurrent()).rejects.toMatchObject({ code: 'SCHEMA_OUT_OF_DATE' });
      await expect(storage.assertSchemaCurrent()).rejects.toThrow(/converge migrate --database/);

      const report = await storage.migrate();
      expect(report).toMatchObject({ fromVersion: 0, toVersion: POSTGRES_SCHEMA_VERSION, dryRun: false });
      expect(report.steps.map((s) => s.version)).toEqual(POSTGRES_MIGRATIONS.map((s) => s.version));
      await expect(storage.assertSchemaCurrent()).resolves.toBeUndefined();

      const again = await storage.migrate();
      expect(again.steps).toEqual([]);
      expect(again.fromVersion).toBe(POSTGRES_SCHEMA_VERSION);
      expect(await count(db.url, 'SELECT count(*) AS n FROM converge.schema_migrations')).toBe(
        POSTGRES_MIGRATIONS.length,
      );
    });

    it('four processes migrating at once: all succeed, each step is applied exactly once', async () => {
      const db = await freshDatabase();
      const reports = await Promise.all([1, 2, 3, 4].map(() => open(db.url).migrate()));
      for (const report of reports) expect(report.toVersion).toBe(POSTGRES_SCHEMA_VERSION);
      expect(reports.reduce((sum, report) => sum + report.steps.length, 0)).toBe(POSTGRES_MIGRATIONS.length);
      expect(await count(db.url, 'SELECT count(*) AS n FROM converge.schema_migrations')).toBe(
        POSTGRES_MIGRATIONS.length,
      );
    });

    it('a dry run applies nothing and reports the pending SQL', async () => {
      const db = await freshDatabase();
      const storage = open(db.url);
      const report = await storage.migrate({ dryRun: true });
      expect(report).toMatchObject({
        dryRun: true,
        fromVersion: 0,
        toVersion: 0,
        latestVersion: POSTGRES_SCHEMA_VERSION,
      });
      expect(report.steps[0]?.sql).toContain('CREATE TABLE converge.outbox');
      expect(await count(db.url, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'converge'")).toBe(
        0,
      );
    });

    it('only ever creates tables in schema converge', async () => {
      const db = await freshDatabase();
      await open(db.url).migrate();
      const outside = await count(
        db.url,
        `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('converge', 'pg_catalog', 'information_schema', 'pg_toast') AND c.relkind IN ('r', 'i', 'S')`,
      );
      expect(outside).toBe(0);
    });

    it('refuses a database migrated by a newer Converge, naming it with its password masked', async () => {
      const db = await freshDatabase();
      const url = new URL(db.url);
      url.username = 'postgres';
      url.password = 's3cret-password';
      const storage = open(url.toString());
      await storage.migrate();
      await storage.transaction(async (tx) => {
        await tx.execute(
          "INSERT INTO converge.schema_migrations (version, name) VALUES ($1, 'from the future')",
          [POSTGRES_SCHEMA_VERSION + 1],
        );
      });
      const failure = await storage.assertSchemaCurrent().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'SCHEMA_TOO_NEW' });
      const text = (failure as Error).message;
      expect(text).toContain(`${POSTGRES_SCHEMA_VERSION + 1}`);
      expect(text).toContain(url.pathname.slice(1));
      expect(text).toMatch(/upgrade @converge\/core/);
      expect(text).not.toContain('s3cret');
      expect(storage.description).not.toContain('s3cret');
    });
  });

  describe('transactions', () => {
    it('pgTransaction joins the caller’s transaction: the caller’s ROLLBACK removes the appended row, COMMIT keeps it', async () => {
      const db = first!;
      const pool = new pg.Pool({ connectionString: db.url });
      const storage = createPostgresStorage({ pool });
      try {
        await storage.migrate();
        const client = await pool.connect();
        try {
          expect(() => pgTransaction(client)).toThrow(
            expect.objectContaining({ code: 'OUTBOX_APPEND_OUTSIDE_TRANSACTION' }),
          );
          await client.query('BEGIN');
          const tx = pgTransaction(client);
          expect(tx.raw).toBe(client);
          const sequence = await storage.outbox.reserveSequence(tx, 'customer', 'rolled-back', 1);
          await storage.outbox.insert(tx, [message('rolled-back', sequence)]);
          expect(
            await count(db.url, "SELECT count(*) AS n FROM converge.outbox WHERE key = 'rolled-back'"),
          ).toBe(0);
          await client.query('ROLLBACK');

          await client.query('BEGIN');
          const again = pgTransaction(client);
          const kept = await storage.outbox.reserveSequence(again, 'customer', 'kept', 1);
          await storage.outbox.insert(again, [message('kept', kept)]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
        expect(
          await count(db.url, "SELECT count(*) AS n FROM converge.outbox WHERE key = 'rolled-back'"),
        ).toBe(0);
        expect(
          await count(db.url, "SELECT count(*) AS n FROM converge.outbox_sequence WHERE key = 'rolled-back'"),
        ).toBe(0);
        expect(await count(db.url, "SELECT count(*) AS n FROM converge.outbox WHERE key = 'kept'")).toBe(1);
      } finally {
        await storage.close();
        // close() must leave the caller's pool usable.
        expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
        await pool.end();
      }
    });

    it('storage.transaction commits on success, rolls back on throw, and refuses a swallowed failure', async () => {
      const storage = open(first!.url);
      await storage.migrate();
      await storage.transaction((tx) =>
        tx.execute("INSERT INTO converge.outbox_sequence VALUES ('t', 'commit', 1)"),
      );
      await expect(
        storage.transaction(async (tx) => {
          await tx.execute("INSERT INTO converge.outbox_sequence VALUES ('t', 'rollback', 1)");
          throw new Error('business rule failed');
        }),
      ).rejects.toThrow('business rule failed');
      await expect(
        storage.transaction(async (tx) => {
          await tx.execute("INSERT INTO converge.outbox_sequence VALUES ('t', 'swallowed', 1)");
          await tx.execute('SELECT 1/0').catch(() => undefined);
        }),
      ).rejects.toMatchObject({ code: 'TRANSACTION_ABORTED' });
      const keys = await storage.transaction((tx) =>
        tx.query<{ key: string }>("SELECT key FROM converge.outbox_sequence WHERE source = 't' ORDER BY key"),
      );
      expect(keys.map((row) => row.key)).toEqual(['commit']);
    });

    it('a handle kept after its transaction ended refuses to run statements', async () => {
      const storage = open(first!.url);
      const kept = await storage.transaction(async (tx) => tx);
      await expect(kept.query('SELECT 1')).rejects.toMatchObject({ code: 'TRANSACTION_CLOSED' });
    });

    it('describes itself without secrets and declares its capabilities', () => {
      const storage = createPostgresStorage({
        connectionString: 'postgres://app:hunter2@db.internal:5432/orders',
      });
      expect(storage.description).toBe('postgres://app:***@db.internal:5432/orders');
      expect(storage.capabilities).toEqual({
        skipLocked: true,
        notifications: true,
        multipleConnections: true,
        errorAbortsTransaction: true,
      });
      expect(() => createPostgresStorage({ connectionString: 'sqlite:x.db' })).toThrow(
        expect.objectContaining({ code: 'DATABASE_URL_INVALID' }),
      );
    });
  });
});
