/**
 * Schema upgrades keep what a database already holds, on each backend:
 * - version 3 on a database that already has receipts (version 2): the migration adds the payload
 *   hash without touching existing rows, which read back with an unknown hash (null), so the inbox
 *   gives them the benefit of the doubt at their own position (test/duplicate-id-conflict);
 * - version 4 (relay heartbeats) on a version-3 owner database with published and unpublished
 *   outbox messages: they stay as they were, the relay table starts empty, and a relay started
 *   after the upgrade publishes the backlog and reports in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createRelay, type Storage } from '../packages/core/src/index.js';
import { createPostgresStorage } from '../packages/core/src/storage/postgres/index.js';
import { POSTGRES_MIGRATIONS } from '../packages/core/src/storage/postgres/postgres-migrations.js';
import { createSqliteStorage } from '../packages/core/src/storage/sqlite/index.js';
import { SQLITE_MIGRATIONS } from '../packages/core/src/storage/sqlite/sqlite-migrations.js';
import { createPostgresTestDatabase } from '../packages/core/src/testing/postgres-test-database.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import { createSwitchableTransport } from './support/relay-probes.js';

const backends = (await availableBackends()).map((backend) => backend.name);
const RECEIPT = ['billing', 'm-1', 'orders', 'a', 1, 'applied'] as const;
const LATEST = SQLITE_MIGRATIONS.at(-1)!.version;
/** The versions an upgrade from `version` applies: every later one, in order. */
const after = (version: number): number[] =>
  SQLITE_MIGRATIONS.map((step) => step.version).filter((candidate) => candidate > version);

/** Rows written with this version's SQL, before the upgrade: `?` placeholders on SQLite, `$n` on PostgreSQL. */
type Seed = (
  run: (sqlite: string, postgres: string, params: readonly unknown[]) => Promise<void>,
) => Promise<void>;

/** A database migrated by hand to `version`, seeded, and how to open it with this build. */
async function databaseAt(
  backend: 'sqlite' | 'postgres',
  version: number,
  seed: Seed,
): Promise<{ open(): Storage; cleanup(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'converge-upgrade-'));
    const path = join(dir, 'service.db');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE converge_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const step of SQLITE_MIGRATIONS.filter((s) => s.version <= version)) {
      db.exec(step.sql);
      db.prepare('INSERT INTO converge_schema_migrations VALUES (?, ?, 0)').run(step.version, step.name);
    }
    await seed(async (sql, _postgres, params) => {
      db.prepare(sql).run(...params);
    });
    db.close();
    return {
      open: () => createSqliteStorage({ path }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const database = (await createPostgresTestDatabase())!;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  for (const step of POSTGRES_MIGRATIONS.filter((s) => s.version <= version)) {
    await client.query(step.sql);
    await client.query('INSERT INTO converge.schema_migrations (version, name) VALUES ($1, $2)', [
      step.version,
      step.name,
    ]);
  }
  await seed(async (_sqlite, sql, params) => {
    await client.query(sql, [...params]);
  });
  await client.end();
  return { open: () => createPostgresStorage({ connectionString: database.url }), cleanup: database.drop };
}

describe.each(backends)('schema upgrade to version 3 on %s', (backend) => {
  it('adds the payload hash; receipts written before read back with an unknown hash', async () => {
    const database = await databaseAt(backend, 2, (run) =>
      run(
        'INSERT INTO converge_inbox_receipt (consumer, message_id, source, key, sequence, outcome, received_at) VALUES (?, ?, ?, ?, ?, ?, 0)',
        'INSERT INTO converge.inbox_receipt (consumer, message_id, source, key, sequence, outcome) VALUES ($1, $2, $3, $4, $5, $6)',
        RECEIPT,
      ),
    );
    const storage = database.open();
    try {
      await expect(storage.assertSchemaCurrent()).rejects.toMatchObject({ code: 'SCHEMA_OUT_OF_DATE' });
      const report = await storage.migrate();
      expect(report).toMatchObject({ fromVersion: 2, toVersion: LATEST });
      expect(report.steps.map((step) => step.version)).toEqual(after(2));
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

describe.each(backends)('schema upgrade to version 4 on %s', (backend) => {
  const message = (id: string, sequence: number) => ({
    specversion: '1.0',
    id,
    source: 'customer-profile',
    type: 'customer.unsubscribed',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    subject: 'c-1',
    sequence,
    data: { customerId: 'c-1' },
  });
  const published = message('0190a0b0-0000-7000-8000-000000000001', 1);
  const waiting = message('0190a0b0-0000-7000-8000-000000000002', 2);

  it('keeps the outbox as it was; the relay table starts empty and a relay started after it reports in', async () => {
    const database = await databaseAt(backend, 3, async (run) => {
      for (const [m, publishedAt] of [
        [published, 1_000],
        [waiting, null],
      ] as const) {
        await run(
          'INSERT INTO converge_outbox (message_id, source, type, key, sequence, body, created_at, published_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)',
          `INSERT INTO converge.outbox (message_id, source, type, key, sequence, body, published_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::bigint IS NULL THEN NULL ELSE now() END)`,
          [m.id, m.source, m.type, m.subject, m.sequence, JSON.stringify(m), publishedAt],
        );
      }
      await run(
        'INSERT INTO converge_outbox_sequence (source, key, last_sequence) VALUES (?, ?, ?)',
        'INSERT INTO converge.outbox_sequence (source, key, last_sequence) VALUES ($1, $2, $3)',
        ['customer-profile', 'c-1', 2],
      );
    });
    const storage = database.open();
    const transport = createSwitchableTransport();
    const relay = createRelay({ storage, transport, relayId: 'relay-after-upgrade', pollIntervalMs: 10 });
    try {
      await expect(relay.start()).rejects.toMatchObject({ code: 'SCHEMA_OUT_OF_DATE' });
      const report = await storage.migrate();
      expect(report).toMatchObject({ fromVersion: 3, toVersion: LATEST });
      expect(report.steps.map((step) => step.version)).toEqual(after(3));
      expect(await storage.outbox.status()).toMatchObject({ backlog: 1, publishedRetained: 1 });
      expect((await storage.outbox.listRelays()).relays).toEqual([]);
      const next = await storage.transaction((tx) =>
        storage.outbox.reserveSequence(tx, 'customer-profile', 'c-1', 1),
      );
      expect(next).toBe(3);

      await relay.start();
      await waitFor(
        'the waiting message published',
        async () => (await storage.outbox.status()).backlog === 0,
        10_000,
      );
      expect(transport.accepted).toEqual([waiting.id]);
      await relay.stop();
      const [row] = (await storage.outbox.listRelays()).relays;
      expect(row).toMatchObject({
        relayId: 'relay-after-upgrade',
        published: 1,
        stoppedAt: expect.any(Date),
      });
    } finally {
      await relay.stop();
      await storage.close();
      await database.cleanup();
    }
  });
});
