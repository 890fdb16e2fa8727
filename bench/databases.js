/**
 * The benchmark's databases: fresh `converge_bench_*` databases on the local server, created
 * through the admin connection and dropped afterwards (also when a run aborts).
 */
import pg from 'pg';

/** Admin URL; override with BENCH_DATABASE_URL (it must name a database we may CREATE DATABASE from). */
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of database `name` on the admin URL's server. */
export function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates and drops databases; remembers what it created so `dropAll` can clean up after a failure. */
export class BenchDatabases {
  /** @type {pg.Client | null} */
  #admin = null;
  /** @type {Set<string>} */
  #created = new Set();

  async #client() {
    if (this.#admin === null) {
      this.#admin = new pg.Client({ connectionString: ADMIN_URL, application_name: 'converge-bench-admin' });
      this.#admin.on('error', () => {});
      await this.#admin.connect();
    }
    return this.#admin;
  }

  /** One statement on the admin connection. */
  async query(sql, params) {
    return (await this.#client()).query(sql, params);
  }

  /**
   * Creates a fresh database `converge_bench_<pid>_<label>` (dropping a leftover of that name) and
   * returns its URL.
   */
  async create(label) {
    const name = `converge_bench_${process.pid}_${label}`;
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`Benchmark database name '${name}' is not [a-z0-9_].`);
    const admin = await this.#client();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    this.#created.add(name);
    return databaseUrl(name);
  }

  /** Drops a database this object created (by URL). */
  async drop(url) {
    const name = new URL(url).pathname.slice(1);
    if (!this.#created.has(name)) return;
    await (await this.#client()).query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    this.#created.delete(name);
  }

  /** Drops everything still created and closes the admin connection. Never throws. */
  async dropAll() {
    for (const name of [...this.#created]) {
      await this.#admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      this.#created.delete(name);
    }
    await this.#admin?.end().catch(() => undefined);
    this.#admin = null;
  }
}
