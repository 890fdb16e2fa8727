/**
 * (a) The raw ceiling: single-row `INSERT`s in autocommit mode (one statement, one commit), as
 * fast as `connections` clients can go, for a fixed duration after a short warm-up.
 */
import pg from 'pg';
import { nowMs } from './clock.js';

const RAW_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS raw_commit (id bigserial PRIMARY KEY, customer_id text NOT NULL, status text NOT NULL)';

/** The raw INSERT plus a `pg_notify` in the same transaction (what every outbox append does). */
export const RAW_NOTIFY_SQL =
  "WITH i AS (INSERT INTO raw_commit (customer_id, status) VALUES ($1, $2) RETURNING 1) SELECT pg_notify('bench', '') FROM i";

/**
 * @param {{ url: string, connections: number, warmupMs: number, durationMs: number, sql?: string }} options
 *   `sql` replaces the statement (it gets `$1` customer id, `$2` status).
 * @returns {Promise<{ connections: number, commits: number, seconds: number, commitsPerSecond: number }>}
 */
export async function measureRawCommits({ url, connections, warmupMs, durationMs, sql }) {
  const statement = sql ?? 'INSERT INTO raw_commit (customer_id, status) VALUES ($1, $2)';
  const clients = [];
  try {
    for (let i = 0; i < connections; i += 1) {
      const client = new pg.Client({ connectionString: url, application_name: 'converge-bench-raw' });
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
    }
    await clients[0].query(RAW_TABLE_SQL);
    let counting = false;
    let commits = 0;
    let n = 0;
    const warmupEnd = nowMs() + warmupMs;
    const end = warmupEnd + durationMs;
    let measuredStart = 0;
    let measuredEnd = 0;
    const worker = async (client) => {
      for (;;) {
        const now = nowMs();
        if (now >= end) break;
        if (!counting && now >= warmupEnd) {
          counting = true;
          measuredStart = now;
        }
        n += 1;
        await client.query(statement, [`customer-${n % 1000}`, 'unsubscribed']);
        if (counting) {
          commits += 1;
          measuredEnd = nowMs();
        }
      }
    };
    await Promise.all(clients.map(worker));
    const seconds = (measuredEnd - measuredStart) / 1000;
    return { connections, commits, seconds, commitsPerSecond: seconds > 0 ? commits / seconds : 0 };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}
