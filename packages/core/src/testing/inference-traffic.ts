/**
 * Real traffic for the ownership-inference tests, on the cluster `.ci/infer-cluster.sh` starts
 * (port 5433, `pg_stat_statements` preloaded, every statement logged with `%u@%d`): a fresh
 * database per test file with the Sysops Squad's three services — a schema, a table and a LOGIN
 * role each — and `runSysopsTraffic`, in which each role reads and writes its own table, reads
 * what the manifest lets it read, and two things it should not: `billing_payment` UPDATEs
 * `support_contract.contract` (the planted undeclared writer, through its `search_path`, with an
 * unqualified name) and `support_contract` reads `billing_payment.payment`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maskSecrets } from '../core/database-url.js';
import { waitFor } from './wait-for.js';

/** The environment variable naming the inference cluster (an admin URL). */
export const INFER_POSTGRES_URL_ENV = 'CONVERGE_TEST_INFER_POSTGRES_URL';
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5433/postgres';

/** The roles (= services) of the scenario. */
export const SYSOPS_ROLES = ['customer_profile', 'support_contract', 'billing_payment'] as const;

/** A fresh database on the inference cluster. */
export interface InferTestDatabase {
  /** Superuser URL of the database. */
  readonly url: string;
  readonly name: string;
  /** The URL to connect to the database as `role` (trust authentication). */
  roleUrl(role: string): string;
  /** Empties `pg_stat_statements` for this database and remembers where the log ends now. */
  resetStatistics(): Promise<void>;
  /** Waits until the server has logged everything so far and writes the log since `resetStatistics` to a file. */
  captureLog(): Promise<string>;
  drop(): Promise<void>;
}

/**
 * Creates `converge_i_<random>` on the inference cluster with `pg_stat_statements`. Resolves to
 * `null` (after a loud warning) when the cluster is unreachable, and throws under `CI=true`.
 */
export async function createInferTestDatabase(suite: string): Promise<InferTestDatabase | null> {
  const adminUrl = process.env[INFER_POSTGRES_URL_ENV] ?? DEFAULT_URL;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (cause) {
    await admin.end().catch(() => {});
    const problem = `The inference cluster is not reachable at ${maskSecrets(adminUrl)} (${(cause as Error).message})`;
    if (process.env.CI === 'true') {
      throw new Error(`${problem}: it is required under CI; start it with 'bash .ci/infer-cluster.sh'.`, {
        cause,
      });
    }
    const line = '!'.repeat(100);
    process.stderr.write(
      `\n${line}\n!! ${problem} : skipping ${suite}\n!! Start it with 'bash .ci/infer-cluster.sh' (as root) or set ${INFER_POSTGRES_URL_ENV}.\n${line}\n\n`,
    );
    return null;
  }
  const name = `converge_i_${randomBytes(6).toString('hex')}`;
  let logFile: string | undefined;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const [row] = (await admin.query('SELECT pg_current_logfile() AS file')).rows as {
      file: string | null;
    }[];
    logFile = row?.file ?? undefined;
  } finally {
    await admin.end();
  }
  const urlOf = (role: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    url.username = role;
    url.password = '';
    return url.toString();
  };
  const url = urlOf(new URL(adminUrl).username || 'postgres');
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  let logOffset = 0;
  return Object.freeze({
    url,
    name,
    roleUrl: urlOf,
    async resetStatistics() {
      // Only this database's entries: other test files run traffic on the same cluster at the same time.
      await run(
        'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
      );
      logOffset = logFile === undefined ? 0 : statSync(logFile).size;
    },
    async captureLog() {
      if (logFile === undefined)
        throw new Error('The inference cluster does not log to a file (logging_collector = off).');
      const file = logFile;
      const marker = `converge-log-marker-${randomBytes(6).toString('hex')}`;
      await run(`SELECT '${marker}'`);
      const text = await waitFor('the server to log the marker', () => {
        const all = readFileSync(file).subarray(logOffset).toString('utf8');
        return all.includes(marker) ? all : '';
      });
      const path = join(tmpdir(), `${name}-${marker}.log`);
      writeFileSync(path, text);
      return path;
    },
    async drop() {
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

/**
 * Creates the scenario's roles (once per cluster), schemas and tables in `db`, with every role
 * allowed to use every table (the database does not enforce the manifest here: inference must
 * find what enforcement would forbid), and `billing_payment`'s search_path in this database
 * including `support_contract`.
 */
export async function createSysopsSchema(db: InferTestDatabase): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const role of SYSOPS_ROLES) {
      // Two test files may create the same cluster-wide role at once.
      await client.query(
        `DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
      );
      await client.query(`CREATE SCHEMA ${role}`);
    }
    await client.query(`
      CREATE TABLE customer_profile.customer (id int PRIMARY KEY, name text NOT NULL, status text NOT NULL);
      CREATE TABLE support_contract.contract (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL);
      CREATE TABLE billing_payment.payment (id serial PRIMARY KEY, customer_id int NOT NULL, amount int NOT NULL);
    `);
    for (const role of SYSOPS_ROLES) {
      await client.query(`GRANT USAGE ON SCHEMA ${SYSOPS_ROLES.join(', ')} TO ${role}`);
      await client.query(`GRANT ALL ON ALL TABLES IN SCHEMA ${SYSOPS_ROLES.join(', ')} TO ${role}`);
      await client.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${SYSOPS_ROLES.join(', ')} TO ${role}`);
    }
    await client.query(
      `ALTER ROLE billing_payment IN DATABASE ${db.name} SET search_path = billing_payment, support_contract`,
    );
  } finally {
    await client.end();
  }
}

/** The traffic itself: each role on its own connection, with bind parameters as applications send them. */
export async function runSysopsTraffic(db: InferTestDatabase): Promise<void> {
  const { default: pg } = await import('pg');
  // As the superuser, whose statements inference leaves out: the traffic can run again.
  const admin = new pg.Client({ connectionString: db.url });
  admin.on('error', () => {});
  await admin.connect();
  await admin
    .query('TRUNCATE customer_profile.customer, support_contract.contract, billing_payment.payment')
    .finally(() => admin.end());
  const as = async (
    role: string,
    work: (query: (sql: string, values?: unknown[]) => Promise<unknown>) => Promise<void>,
  ) => {
    const client = new pg.Client({ connectionString: db.roleUrl(role) });
    client.on('error', () => {});
    await client.connect();
    try {
      await work((sql, values) => client.query(sql, values));
    } finally {
      await client.end();
    }
  };
  await as('customer_profile', async (query) => {
    for (const id of [1, 2, 3]) {
      await query('INSERT INTO customer\n  (id, name, status)\nVALUES ($1, $2, $3)', [
        id,
        `customer ${id}`,
        'active',
      ]);
    }
    await query("UPDATE customer SET status = 'unsubscribed' WHERE id = $1", [1]);
    await query('SELECT id, status FROM customer WHERE id = $1', [1]);
  });
  await as('support_contract', async (query) => {
    await query(
      'INSERT INTO contract (id, customer_id, status) SELECT id, id, $1 FROM customer_profile.customer',
      ['active'],
    );
    await query(
      `WITH unsubscribed AS (
         SELECT id FROM customer_profile.customer WHERE status = $1
       )
       UPDATE contract SET status = 'cancelled' FROM unsubscribed WHERE contract.customer_id = unsubscribed.id`,
      ['unsubscribed'],
    );
    await query('SELECT count(*) FROM contract WHERE status = $1', ['cancelled']);
    // Undeclared read: billing's table.
    await query('SELECT sum(amount) FROM billing_payment.payment WHERE customer_id = $1', [2]);
  });
  await as('billing_payment', async (query) => {
    await query('INSERT INTO payment (customer_id, amount) VALUES ($1, $2), ($3, $4)', [2, 100, 3, 250]);
    // A CTE named like a real table of another service: it must not count as a read of it.
    await query(
      'WITH contract AS (SELECT customer_id, amount FROM payment) SELECT * FROM contract WHERE amount > $1',
      [10],
    );
    await query('SELECT status FROM customer_profile.customer WHERE id = $1', [2]);
    // The planted undeclared writer: billing_payment updates support_contract's table directly,
    // unqualified, found through its search_path.
    await query("UPDATE contract SET status = 'suspended' WHERE customer_id = $1", [3]);
  });
}
