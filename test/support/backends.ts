/**
 * The storage backends the cross-cutting tests run against. SQLite files always run; PostgreSQL
 * runs when reachable (and must be, under CI=true): see `createPostgresTestDatabase`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '../../packages/core/src/index.js';
import { createSqliteStorage } from '../../packages/core/src/storage/sqlite/index.js';

/** A set of databases for one test: open one per service by name. */
export interface TestDatabases {
  /** Opens (and migrates) the database of `service`; the same name gives the same database. */
  open(service: string): Promise<Storage>;
  /** The URL of `service`'s database, for child processes. */
  url(service: string): string;
  cleanup(): Promise<void>;
}

export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  /** Null when the backend is not reachable here (and CI is not set). */
  create(): Promise<TestDatabases | null>;
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'converge-test-'));
    const opened: Storage[] = [];
    return {
      url: (service) => `sqlite:${join(dir, `${service}.db`)}`,
      async open(service) {
        const storage = createSqliteStorage({ path: join(dir, `${service}.db`) });
        await storage.migrate();
        opened.push(storage);
        return storage;
      },
      async cleanup() {
        for (const storage of opened.splice(0)) await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  async create() {
    const { createPostgresTestDatabase } = await import(
      '../../packages/core/src/testing/postgres-test-database.js'
    );
    const { createPostgresStorage } = await import('../../packages/core/src/storage/postgres/index.js');
    const databases = new Map<string, { url: string; drop(): Promise<void> }>();
    const opened: Storage[] = [];
    const probe = await createPostgresTestDatabase();
    if (probe === null) return null;
    await probe.drop();
    const database = async (service: string) => {
      let db = databases.get(service);
      if (db === undefined) {
        const created = await createPostgresTestDatabase();
        if (created === null) throw new Error('PostgreSQL went away during the test');
        db = created;
        databases.set(service, db);
      }
      return db;
    };
    return {
      url(service) {
        const db = databases.get(service);
        if (db === undefined) throw new Error(`open('${service}') before asking for its URL`);
        return db.url;
      },
      async open(service) {
        const storage = createPostgresStorage({ connectionString: (await database(service)).url, max: 10 });
        await storage.migrate();
        opened.push(storage);
        return storage;
      },
      async cleanup() {
        for (const storage of opened.splice(0)) await storage.close();
        for (const db of databases.values()) await db.drop();
        databases.clear();
      },
    };
  },
};

/** `CONVERGE_TEST_BACKENDS=sqlite` (comma-separated) narrows the matrix for a quick local run. */
export const backends: readonly Backend[] = [sqliteBackend, postgresBackend].filter(
  (backend) =>
    process.env.CONVERGE_TEST_BACKENDS === undefined ||
    process.env.CONVERGE_TEST_BACKENDS.split(',').includes(backend.name),
);

/**
 * The backends reachable here. An unreachable PostgreSQL is reported loudly on stderr and left
 * out, except under CI=true, where `createPostgresTestDatabase` throws instead.
 */
export async function availableBackends(): Promise<Backend[]> {
  const available: Backend[] = [];
  for (const backend of backends) {
    const databases = await backend.create();
    if (databases === null) continue;
    await databases.cleanup();
    available.push(backend);
  }
  return available;
}

/** Placeholder for the i-th bind parameter in `backend`'s SQL dialect (1-based). */
export function param(backend: Backend, index: number): string {
  return backend.name === 'postgres' ? `$${index}` : '?';
}
