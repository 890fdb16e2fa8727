import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../ports/log-store.js';
import type { Storage } from '../../ports/storage.js';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { waitFor } from '../../testing/wait-for.js';
import { LOG_APPEND_LOCK_KEY } from './advisory-lock-key.js';
import { createPostgresStorage } from './postgres-storage.js';

const db = await createPostgresTestDatabase('postgres log store');

const entry = (id: string): LogEntry => ({
  messageId: id,
  source: 'orders',
  type: 'order.placed',
  key: 'k',
  body: `{"id":"${id}"}`,
});

describe.skipIf(!db)('PostgresLogStore', () => {
  let storage: Storage;
  let admin: pg.Client;

  beforeAll(async () => {
    storage = createPostgresStorage({
      connectionString: db!.url,
      max: 16,
      applicationName: 'converge-log-test',
    });
    await storage.migrate();
    admin = new pg.Client({ connectionString: db!.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await storage?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    // A failed test may have left the admin session inside its transaction.
    if (admin.getTransactionStatus() !== 'I') await admin.query('ROLLBACK');
    await admin.query('TRUNCATE converge.log, converge.log_group');
  });

  it('an append waits for an earlier, uncommitted append, so its position is higher and visible later', async () => {
    // An appender that drew its position and has not committed yet.
    await admin.query('BEGIN');
    await admin.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOG_APPEND_LOCK_KEY]);
    const { rows } = await admin.query<{ position: string }>(
      "INSERT INTO converge.log (message_id, source, type, key, body) VALUES ('early', 'orders', 't', 'k', '{}') RETURNING position",
    );
    const earlyPosition = Number(rows[0]?.position);

    let appended = false;
    const late = storage.log.append([entry('late')]).then(() => {
      appended = true;
    });
    await waitFor('the append to wait for the log lock', async () => {
      const waiting = await storage.transaction((tx) =>
        tx.query(
          `SELECT 1 FROM pg_locks
           WHERE locktype = 'advisory' AND NOT granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        ),
      );
      return waiting.length === 1;
    });
    expect(appended).toBe(false);
    expect(await storage.log.read(0, 10)).toEqual([]);

    await admin.query('COMMIT');
    await late;
    const all = await storage.log.read(0, 10);
    expect(all.map((r) => r.messageId)).toEqual(['early', 'late']);
    expect(all[1]!.position).toBeGreaterThan(earlyPosition);
  });

  it('concurrent appenders: a reader advancing by `position > last` sees every record exactly once, in order', async () => {
    const expected = new Set<string>();
    const appenders = Array.from({ length: 8 }, async (_, a) => {
      for (let i = 0; i < 15; i += 1) {
        const batch = [0, 1, 2].map((j) => entry(`a${a}-${i}-${j}`));
        for (const e of batch) expected.add(e.messageId);
        await storage.log.append(batch);
      }
    });
    const seen: string[] = [];
    let last = 0;
    let done = false;
    const reader = (async () => {
      while (!done || last < (await storage.log.headPosition())) {
        const records = await storage.log.read(last, 7);
        for (const record of records) {
          expect(record.position).toBeGreaterThan(last);
          last = record.position;
          seen.push(record.messageId);
        }
      }
    })();
    await Promise.all(appenders);
    done = true;
    await reader;
    expect(seen).toHaveLength(expected.size);
    expect(new Set(seen)).toEqual(expected);
    expect(await storage.log.headPosition()).toBe(last);
  });

  it('a group has one holder; renewing keeps the token; a holder fenced out by expiry cannot commit', async () => {
    expect(await storage.log.committedPosition('billing')).toBe(0);
    const h1 = await storage.log.acquireGroup('billing', 'h1', 1);
    expect(h1).toEqual({ group: 'billing', holderId: 'h1', token: 1 });
    await storage.log.commit(h1!, 5);

    const h2 = (await waitFor('h1’s lease to expire', () =>
      storage.log.acquireGroup('billing', 'h2', 60_000),
    ))!;
    expect(h2.token).toBe(2);
    await expect(storage.log.commit(h1!, 6)).rejects.toMatchObject({ code: 'LOG_LEASE_LOST' });
    expect(await storage.log.acquireGroup('billing', 'h1', 60_000)).toBeNull();
    expect(await storage.log.acquireGroup('billing', 'h2', 60_000)).toEqual(h2);

    await storage.log.commit(h2, 7);
    expect(await storage.log.committedPosition('billing')).toBe(7);
    expect(await storage.log.committedPosition('shipping')).toBe(0);
  });

  it('releasing a group hands it over at once and fences the releasing holder', async () => {
    const h1 = await storage.log.acquireGroup('billing', 'h1', 60_000);
    await storage.log.commit(h1!, 3);
    await storage.log.releaseGroup(h1!);
    await expect(storage.log.commit(h1!, 4)).rejects.toMatchObject({ code: 'LOG_LEASE_LOST' });
    const h2 = await storage.log.acquireGroup('billing', 'h2', 60_000);
    expect(h2?.token).toBe(h1!.token + 1);
    await storage.log.releaseGroup(h2!);
    const again = await storage.log.acquireGroup('billing', 'h2', 60_000);
    expect(again?.token).toBe(h2!.token + 1);
    expect(await storage.log.committedPosition('billing')).toBe(3);
  });

  it('concurrent acquirers of a free group: exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => storage.log.acquireGroup('contended', `h${i}`, 60_000)),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });
});
