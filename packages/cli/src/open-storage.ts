import { maskSecrets, parseDatabaseUrl, type Storage } from '@converge/core';
import { databaseFailure } from './database-failure.js';

/**
 * Opens Converge's storage on the database `url` names (`postgres://…`, `postgresql://…`,
 * `sqlite:path/to/file.db`). Each adapter is loaded only when its kind of database is asked for,
 * so a SQLite run never loads `pg` and a PostgreSQL run never loads the native SQLite module.
 * Opening does not connect to PostgreSQL yet; the first statement does.
 *
 * @throws ConvergeError `DATABASE_URL_INVALID` for an unsupported or malformed URL,
 *   `SQLITE_OPEN_FAILED` when the SQLite file cannot be opened.
 * @example const storage = await openStorage('sqlite:data/app.db'); try { await storage.migrate(); } finally { await storage.close(); }
 */
export async function openStorage(url: string): Promise<Storage> {
  const database = parseDatabaseUrl(url);
  switch (database.kind) {
    case 'sqlite': {
      const { createSqliteStorage } = await import('@converge/core/sqlite');
      return createSqliteStorage({ path: database.path });
    }
    case 'postgres': {
      const { createPostgresStorage } = await import('@converge/core/postgres');
      return createPostgresStorage({ connectionString: database.url, applicationName: 'converge cli' });
    }
  }
}

/**
 * Opens the storage, runs `work` on it and closes it, also when `work` throws. A driver error
 * becomes a `ConvergeError` naming the database with its password masked (see `databaseFailure`).
 *
 * @example const report = await withStorage(url, (storage) => storage.migrate());
 */
export async function withStorage<T>(url: string, work: (storage: Storage) => Promise<T>): Promise<T> {
  const database = maskSecrets(url.trim());
  let storage: Storage;
  try {
    storage = await openStorage(url);
  } catch (error) {
    throw databaseFailure(error, database);
  }
  let result: T;
  try {
    result = await work(storage);
  } catch (error) {
    // The first failure is the one to report; a failed close after it would only hide it.
    await storage.close().catch(() => undefined);
    throw databaseFailure(error, database);
  }
  try {
    await storage.close();
  } catch (error) {
    throw databaseFailure(error, database);
  }
  return result;
}
