import { createHook } from 'node:async_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_CHANNEL, OUTBOX_CHANNEL, type Storage } from '../../ports/storage.js';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { waitFor } from '../../testing/wait-for.js';
import type { PgPoolLike } from './pg-like.js';
import { createPostgresStorage } from './postgres-storage.js';

const db = await createPostgresTestDatabase('postgres listen/notify');

describe.skipIf(!db)('PostgreSQL notifications', () => {
  let admin: pg.Client;

  /** Sessions of `applicationName` whose last statement was (UN)LISTEN on `channel`. */
  const listeningSessions = async (applicationName: string, channel: string): Promise<number[]> => {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1 AND query IN ($2, $3)`,
      [applicationName, `LISTEN "${channel}"`, `UNLISTEN "${channel}"`],
    );
    return rows.map((r) => r.pid);
  };
  const openSessions = async (applicationName: string): Promise<number> => {
    const { rows } = await admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [applicationName],
    );
    return Number(rows[0]?.n);
  };

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: db!.url });
    await admin.connect();
    const storage = createPostgresStorage({ connectionString: db!.url });
    await storage.migrate();
    await storage.close();
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('an outbox commit notifies a listener; a rolled-back insert does not; stopping ends the connection', async () => {
    const storage: Storage = createPostgresStorage({
      connectionString: db!.url,
      applicationName: 'converge-listen-own',
    });
    try {
      let notified = 0;
      const stop = await storage.listen!(OUTBOX_CHANNEL, () => {
        notified += 1;
      });
      await storage
        .transaction(async (tx) => {
          await tx.query("SELECT pg_notify('converge_outbox', '')");
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      await storage.transaction(async (tx) => {
        const first = await storage.outbox.reserveSequence(tx, 'orders', 'k', 1);
        const envelope = {
          specversion: '1.0' as const,
          id: '0190a5b8-0000-7000-8000-000000000001',
          source: 'orders',
          type: 'order.placed',
          time: new Date().toISOString(),
          datacontenttype: 'application/json' as const,
          subject: 'k',
          sequence: first,
          data: {},
        };
        await storage.outbox.insert(tx, [{ envelope, body: JSON.stringify(envelope) }]);
      });
      await waitFor('the outbox notification', () => notified > 0);
      // Notifications arrive in commit order on one connection: had the rolled-back one been
      // delivered, it would have arrived first and been counted too.
      expect(notified).toBe(1);

      expect(await listeningSessions('converge-listen-own', OUTBOX_CHANNEL)).toHaveLength(1);
      await stop();
      await waitFor(
        'the listening connection to end',
        async () => (await listeningSessions('converge-listen-own', OUTBOX_CHANNEL)).length === 0,
      );
    } finally {
      await storage.close();
    }
    await waitFor('every connection to end', async () => (await openSessions('converge-listen-own')) === 0);
  });

  it('reconnects after its connection is killed and keeps receiving; close() stops it without a dangling timer', async () => {
    const storage = createPostgresStorage({
      connectionString: db!.url,
      applicationName: 'converge-listen-reconnect',
    });
    let notified = 0;
    await storage.listen!(LOG_CHANNEL, () => {
      notified += 1;
    });
    const [firstPid] = (await waitFor('the LISTEN session', async () => {
      const pids = await listeningSessions('converge-listen-reconnect', LOG_CHANNEL);
      return pids.length === 1 ? pids : undefined;
    }))!;
    await admin.query('SELECT pg_terminate_backend($1)', [firstPid]);
    await waitFor('a new LISTEN session', async () => {
      const pids = await listeningSessions('converge-listen-reconnect', LOG_CHANNEL);
      return pids.length === 1 && pids[0] !== firstPid;
    });
    const afterReconnect = notified;
    await storage.log.append([{ messageId: 'm1', source: 'orders', type: 't', key: 'k', body: '{}' }]);
    await waitFor('a notification on the new connection', () => notified > afterReconnect);

    await storage.close();
    await waitFor(
      'the listening connection to end',
      async () => (await openSessions('converge-listen-reconnect')) === 0,
    );
  });

  it('closing while it waits to reconnect clears the reconnect timer', async () => {
    const pool = new pg.Pool({ connectionString: db!.url, application_name: 'converge-listen-down' });
    let refuse = false;
    let refused = 0;
    const flaky: PgPoolLike = {
      connect: async () => {
        if (refuse) {
          refused += 1;
          throw new Error('connection refused (simulated)');
        }
        return pool.connect();
      },
      query: (text, values) => pool.query(text, values),
      end: () => pool.end(),
    };
    const storage = createPostgresStorage({ pool: flaky });
    // Timers created by the listener (not the test runner's own), alive until fired or cleared.
    const listenerTimers = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' && /postgres-listener\.[jt]s/.test(new Error().stack ?? ''))
          listenerTimers.add(id);
      },
      destroy(id) {
        listenerTimers.delete(id);
      },
    }).enable();
    try {
      await storage.listen!(OUTBOX_CHANNEL, () => {});
      const [pid] = (await waitFor('the LISTEN session', async () => {
        const pids = await listeningSessions('converge-listen-down', OUTBOX_CHANNEL);
        return pids.length === 1 ? pids : undefined;
      }))!;
      refuse = true;
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor('a failed reconnect attempt', () => refused > 0);
      await waitFor('the next reconnect to be scheduled', () => listenerTimers.size === 1);
      await storage.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(listenerTimers.size).toBe(0);
    } finally {
      hook.disable();
      await pool.end();
    }
  });

  it('with the caller’s pool, listens on a pooled client and returns it to the pool when stopped', async () => {
    const pool = new pg.Pool({ connectionString: db!.url, max: 2, application_name: 'converge-listen-pool' });
    const storage = createPostgresStorage({ pool });
    try {
      let notified = false;
      const stop = await storage.listen!(OUTBOX_CHANNEL, () => {
        notified = true;
      });
      expect(pool.totalCount - pool.idleCount).toBe(1);
      await admin.query("SELECT pg_notify('converge_outbox', '')");
      await waitFor('the notification through the pooled client', () => notified);
      await stop();
      expect(pool.totalCount - pool.idleCount).toBe(0);
      await storage.close();
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
