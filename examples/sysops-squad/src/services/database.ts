/**
 * Opening a service's own database from its URL (`sqlite:path/file.db` or `postgres://…`), and
 * the one difference between the two dialects the services' SQL meets: how a bind parameter is
 * written. Each adapter is loaded only when its kind of database is asked for.
 */
import { parseDatabaseUrl, type SqlExecutor, type Storage } from '@converge/core';

export type DatabaseKind = 'sqlite' | 'postgres';

/** A service's storage, with its bind-parameter style. */
export interface ServiceDatabase {
  readonly kind: DatabaseKind;
  readonly storage: Storage;
  /** The i-th (1-based) bind parameter: `?` on SQLite, `$i` on PostgreSQL. */
  readonly p: (i: number) => string;
}

/** Opens and migrates the database `url` names, then runs `ddl` (idempotent `CREATE … IF NOT EXISTS`). */
export async function openServiceDatabase(
  url: string,
  applicationName: string,
  ddl: readonly string[],
): Promise<ServiceDatabase> {
  const database = parseDatabaseUrl(url);
  let storage: Storage;
  let p: (i: number) => string;
  if (database.kind === 'sqlite') {
    const { createSqliteStorage } = await import('@converge/core/sqlite');
    storage = createSqliteStorage({ path: database.path });
    p = () => '?';
  } else {
    const { createPostgresStorage } = await import('@converge/core/postgres');
    storage = createPostgresStorage({ connectionString: database.url, applicationName });
    p = (i) => `$${i}`;
  }
  await storage.migrate();
  await storage.transaction(async (tx) => {
    for (const statement of ddl) await tx.execute(statement);
  });
  return { kind: database.kind, storage, p };
}

/** The first row's column `name` as a number (COUNT and MAX come back as strings on PostgreSQL). */
export async function scalar(
  executor: SqlExecutor,
  sql: string,
  params: readonly unknown[] = [],
): Promise<number> {
  const [row] = await executor.query<Record<string, unknown>>(sql, params);
  const value = row === undefined ? null : Object.values(row)[0];
  return value === null || value === undefined ? 0 : Number(value);
}
