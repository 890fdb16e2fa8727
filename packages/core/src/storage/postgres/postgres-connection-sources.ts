import { ConvergeError } from '../../core/errors.js';
import type { ListenerConnection, PgConnectionSource } from './pg-connection.js';
import type { PgPoolLike } from './pg-like.js';
import { PgSession } from './pg-session.js';

type PgModule = typeof import('pg');

/**
 * Connections from the caller's own pool. Listening takes one connection out of it for as long as
 * it listens; `close` leaves the pool alone (it is the caller's to end).
 */
export function callerPoolSource(pool: PgPoolLike): PgConnectionSource {
  return Object.freeze({
    pool: async () => pool,
    async openListener(): Promise<ListenerConnection> {
      const session = new PgSession(await pool.connect());
      return {
        client: session.client,
        close: async (error?: Error) => session.release(error),
      };
    },
    close: async () => {},
  });
}

/**
 * Connections Converge opens itself from a connection string: a `pg.Pool` created on first use
 * (so importing this module loads no driver and opens nothing), and a dedicated `pg.Client` per
 * listener. `close` ends the pool.
 */
export function ownPoolSource(options: {
  readonly connectionString: string;
  readonly max: number | undefined;
  readonly applicationName: string;
  readonly connectionTimeoutMillis: number;
}): PgConnectionSource {
  let driver: Promise<PgModule['default']> | undefined;
  let pool: Promise<PgPoolLike> | undefined;
  let closed = false;

  const loadDriver = (): Promise<PgModule['default']> => {
    driver ??= import('pg').then(
      (module) => module.default,
      (cause: unknown) => {
        throw new ConvergeError(
          'POSTGRES_DRIVER_MISSING',
          "createPostgresStorage({ connectionString }) needs the 'pg' package: run 'npm install pg', or pass your own pool as { pool }.",
          { cause },
        );
      },
    );
    return driver;
  };

  return Object.freeze({
    pool(): Promise<PgPoolLike> {
      if (closed) return Promise.reject(closedError());
      pool ??= loadDriver().then((pg) => {
        const created = new pg.Pool({
          connectionString: options.connectionString,
          application_name: options.applicationName,
          connectionTimeoutMillis: options.connectionTimeoutMillis,
          ...(options.max === undefined ? {} : { max: options.max }),
        });
        // An idle connection that dies is removed by the pool; without a listener the 'error'
        // event would crash the process. The next checkout simply opens a new connection.
        created.on('error', () => {});
        const typed: PgPoolLike = created;
        return typed;
      });
      return pool;
    },
    async openListener(): Promise<ListenerConnection> {
      if (closed) throw closedError();
      const pg = await loadDriver();
      const client = new pg.Client({
        connectionString: options.connectionString,
        application_name: options.applicationName,
        connectionTimeoutMillis: options.connectionTimeoutMillis,
      });
      // This client is discarded after it ends; errors are handled by the listener while it
      // listens, and ignored afterwards rather than crashing the process.
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        close: async () => {
          await client.end().catch(() => {});
        },
      };
    },
    async close(): Promise<void> {
      closed = true;
      const current = pool;
      pool = undefined;
      if (current !== undefined) await (await current.catch(() => undefined))?.end();
    },
  });
}

function closedError(): ConvergeError {
  return new ConvergeError(
    'STORAGE_CLOSED',
    'This PostgreSQL storage was closed; create a new one with createPostgresStorage to use the database again.',
  );
}
