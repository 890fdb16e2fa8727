import { randomBytes } from 'node:crypto';
import { maskSecrets } from '../core/database-url.js';

/** A throwaway database for one test file. */
export interface PostgresTestDatabase {
  /** Connection URL of the fresh database. */
  readonly url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Creates a fresh database `converge_t_<random>` on the server named by
 * `CONVERGE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), for one
 * test file: isolation costs one `CREATE DATABASE`, and `drop()` removes it `WITH (FORCE)`.
 *
 * When PostgreSQL cannot be reached it prints a loud warning to stderr and resolves to `null`, so
 * the suite can skip; under CI (`CI=true`) it throws instead, because a suite that silently skips
 * there proves nothing.
 *
 * @param suite Named in the warning ("skipping <suite>").
 * @throws Error under CI when PostgreSQL is not reachable.
 * @example
 * let db: PostgresTestDatabase | null = null;
 * beforeAll(async () => { db = await createPostgresTestDatabase('postgres outbox'); });
 * afterAll(async () => { await db?.drop(); });
 * beforeEach((ctx) => { if (!db) ctx.skip(); });
 */
export async function createPostgresTestDatabase(
  suite = 'PostgreSQL tests',
): Promise<PostgresTestDatabase | null> {
  const adminUrl = process.env.CONVERGE_TEST_POSTGRES_URL ?? DEFAULT_ADMIN_URL;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (cause) {
    await admin.end().catch(() => {});
    const problem = `PostgreSQL is not reachable at ${maskSecrets(adminUrl)} (${(cause as Error).message})`;
    if (process.env.CI === 'true') {
      throw new Error(
        `${problem}: PostgreSQL is required under CI; start it or set CONVERGE_TEST_POSTGRES_URL.`,
        {
          cause,
        },
      );
    }
    const line = '!'.repeat(100);
    process.stderr.write(
      `\n${line}\n!! ${problem} : skipping ${suite}\n!! Set CONVERGE_TEST_POSTGRES_URL to run it.\n${line}\n\n`,
    );
    return null;
  }
  const name = `converge_t_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return Object.freeze({
    url: url.toString(),
    async drop(): Promise<void> {
      const client = new pg.Client({ connectionString: adminUrl });
      client.on('error', () => {});
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  });
}
