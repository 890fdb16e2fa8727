/**
 * A service that already has its own better-sqlite3 connection appends to the outbox inside its
 * own transaction, through `sqliteTransaction(db)`: the message commits or rolls back with the
 * business change, and the relay side (a separate connection to the same file) sees only commits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../outbox/outbox.js';
import type { Storage } from '../../ports/storage.js';
import { sqliteTransaction } from './sqlite-executor.js';
import { createSqliteStorage } from './sqlite-storage.js';

describe('SQLite: the outbox inside your own connection and transaction', () => {
  let dir: string;
  let storage: Storage;
  let db: Database.Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'converge-user-conn-'));
    storage = createSqliteStorage({ path: join(dir, 'service.db') });
    await storage.migrate();
    db = new Database(join(dir, 'service.db'));
    db.exec('CREATE TABLE customer (id TEXT PRIMARY KEY, status TEXT NOT NULL)');
  });
  afterEach(async () => {
    db.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a connection that is not inside a transaction, naming the remedy', () => {
    expect(() => sqliteTransaction(db)).toThrow(
      expect.objectContaining({
        code: 'OUTBOX_APPEND_OUTSIDE_TRANSACTION',
        message: expect.stringMatching(/BEGIN/),
      }),
    );
  });

  it('your ROLLBACK removes the message with the business change; your COMMIT publishes both', async () => {
    const outbox = createOutbox({ storage, source: 'customer-profile' });
    const unsubscribe = async (id: string, end: 'COMMIT' | 'ROLLBACK') => {
      db.exec('BEGIN IMMEDIATE');
      db.prepare("INSERT INTO customer (id, status) VALUES (?, 'unsubscribed')").run(id);
      await outbox.append(sqliteTransaction(db), [{ type: 'customer.unsubscribed', key: id, data: { id } }]);
      db.exec(end);
    };
    await unsubscribe('c-1', 'ROLLBACK');
    await unsubscribe('c-2', 'COMMIT');

    const claim = await storage.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 10_000 });
    expect(claim?.rows.map((row) => [row.envelope.subject, row.envelope.sequence])).toEqual([['c-2', 1]]);
    expect(db.prepare('SELECT id FROM customer').all()).toEqual([{ id: 'c-2' }]);
    await claim?.release();
  });
});
