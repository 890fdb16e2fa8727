/**
 * `converge ownership plan|apply|verify` as a real process against a real PostgreSQL: the plan for
 * a fresh database runs in psql's place as it is printed; apply asks (exit 2 off a terminal without
 * --yes), changes nothing on --dry-run and nothing the second time; verify exits 3 after a
 * hand-made GRANT and 0 after apply; a runtime role then uses Converge's outbox and inbox but
 * cannot touch another service's table; SQLite is refused; and on the inference cluster the
 * server's own log shows that apply sent nothing but catalog reads and the statements it printed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOutbox, quoteIdentifier as q } from '@converge/core';
import { compileLogLinePrefix, readPostgresLog } from '@converge/core/inference';
import { createPostgresStorage } from '@converge/core/postgres';
import {
  createInferTestDatabase,
  createPostgresTestDatabase,
  INFER_POSTGRES_URL_ENV,
  type InferTestDatabase,
  type PostgresTestDatabase,
} from '@converge/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runConverge, runConvergeOnTerminal, terminalAvailable } from '../test/run-converge.js';

const prefix = `e${randomBytes(4).toString('hex')}`;
const catalog = `${prefix}_catalog`;
const inventory = `${prefix}_inventory`;
const audit = `${prefix}_audit`;
const convergeOwner = `${prefix}_converge_owner`;
const urlVariable = `${prefix.toUpperCase()}_DATABASE_URL`;
const runtime = (service: string) => `${service}_runtime`;
const ROLES = [catalog, inventory, audit]
  .flatMap((s) => [`${s}_owner`, `${s}_runtime`])
  .concat(convergeOwner);

const dir = mkdtempSync(join(tmpdir(), 'converge-enforce-'));
const MANIFEST = join(dir, 'converge.yaml');
// One database that the three services share, named by an environment variable.
writeFileSync(
  MANIFEST,
  `version: 1
services:
  ${catalog}:
    database: \${${urlVariable}}
    owns: [product]
  ${inventory}:
    database: \${${urlVariable}}
    owns: [stock]
    reads: [${catalog}.product]
  ${audit}:
    database: \${${urlVariable}}
    owns: [audit_log]
shared:
  audit_log: { ownership: common, owner: ${audit}, writers: [${catalog}, ${inventory}] }
`,
);
const BUSINESS_TABLES = [
  [catalog, 'product'],
  [inventory, 'stock'],
  [audit, 'audit_log'],
] as const;

const ADMIN_URL = process.env.CONVERGE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let db: PostgresTestDatabase | null = null;
let admin: pg.Client;

/** `converge ownership <args> -f converge.yaml --converge-owner …` (this file's own roles). */
const ownership = (args: readonly string[], env: Record<string, string> = {}) =>
  runConverge(['ownership', ...args, '-f', MANIFEST, '--converge-owner', convergeOwner], env);
/** `converge ownership apply` on a pseudo-terminal, `input` typed into it. */
const applyOnTerminal = (input: string) =>
  runConvergeOnTerminal(
    ['ownership', 'apply', '-f', MANIFEST, '--converge-owner', convergeOwner, '--database', db!.url],
    input,
  );
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

/** How many of this file's roles exist: the measure of "apply changed nothing" before the first apply. */
async function existingRoles(): Promise<number> {
  const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)', [
    ROLES,
  ]);
  return rows[0].n as number;
}

async function dropRoles(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const role of ROLES) await client.query(`DROP ROLE IF EXISTS ${q(role)}`);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await createPostgresTestDatabase('converge ownership plan/apply/verify');
  if (db === null) return;
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  // Before the rollout: the services' tables and Converge's, made by a superuser's migrations.
  for (const [schema, table] of BUSINESS_TABLES) {
    await admin.query(`CREATE SCHEMA ${q(schema)}`);
    await admin.query(`CREATE TABLE ${q(schema)}.${q(table)} (id serial PRIMARY KEY, note text)`);
  }
  const storage = createPostgresStorage({ connectionString: db.url });
  await storage.migrate().finally(() => storage.close());
});

afterAll(async () => {
  await admin?.end();
  await db?.drop();
  if (db !== null) await dropRoles(ADMIN_URL);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach((context) => {
  if (db === null) context.skip();
});

describe('before the first apply', () => {
  it('refuses a SQLite database with exit 2, naming the guard and the CI check instead', async () => {
    for (const command of ['plan', 'apply', 'verify']) {
      const run = await ownership([command, '--database', `sqlite:${join(dir, 'app.db')}`]);
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(/SQLite has no roles or grants/);
      expect(run.stderr).toMatch(/createOwnershipGuard/);
      expect(run.stderr).toMatch(/converge ownership check -f converge.yaml/);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('prints a fresh-database script that psql-style execution runs as it is', async () => {
    const run = await ownership(['plan']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^-- converge ownership plan: .*, for a fresh database$/m);
    // Every statement follows a one-line `-- reason`.
    const lines = run.stdout.split('\n');
    for (const [index, line] of lines.entries()) {
      if (/^(CREATE|ALTER|GRANT|REVOKE) /.test(line)) expect(lines[index - 1]).toMatch(/^-- \S/);
    }
    // The script, on a database of its own (roles are cluster-wide: they are dropped after).
    const fresh = await createPostgresTestDatabase('fresh plan');
    const client = new pg.Client({ connectionString: fresh!.url });
    await client.connect();
    try {
      await client.query(run.stdout);
      const { rows } = await client.query(
        'SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1',
        [[catalog, 'converge']],
      );
      expect(rows).toEqual([
        { nspname: 'converge', owner: convergeOwner },
        { nspname: catalog, owner: `${catalog}_owner` },
      ]);
    } finally {
      await client.end();
      await fresh!.drop();
      await dropRoles(ADMIN_URL);
    }
  });

  it('refuses to apply off a terminal without --yes (exit 2), and changes nothing', async () => {
    const run = await ownership(['apply', '--database', db!.url]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/Refusing to apply \d+ statement\(s\) to .* without confirmation.*--yes/);
    expect(await existingRoles()).toBe(0);
  });

  it.runIf(terminalAvailable)('on a terminal, shows the plan, asks, and changes nothing on "n"', async () => {
    const run = await applyOnTerminal('n\n');
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain(`CREATE ROLE ${q(convergeOwner)} NOLOGIN`);
    expect(run.stdout).toMatch(/Apply these \d+ statement\(s\) to .*\? \[y\/N\]/);
    expect(run.stdout).toContain('Nothing was changed: the apply was not confirmed.');
    expect(await existingRoles()).toBe(0);
  });

  it('prints the plan on --dry-run and changes nothing', async () => {
    const run = await ownership(['apply', '--dry-run', '--database', db!.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `GRANT SELECT ON TABLE ${q(catalog)}.${q('product')} TO ${q(runtime(inventory))};`,
    );
    expect(run.stdout).toMatch(/Dry run: \d+ statement\(s\) would run on .*; nothing was changed\./);
    expect(await existingRoles()).toBe(0);
  });
});

describe('apply and verify', () => {
  it('applies exactly the statements plan --database listed', async () => {
    const plan = json((await ownership(['plan', '--json', '--database', db!.url])).stdout);
    const run = await ownership(['apply', '--yes', '--json', '--database', db!.url]);
    expect(run.code, run.stderr).toBe(0);
    const applied = json(run.stdout);
    expect(applied.applied).toBe(true);
    expect(applied.statements).toEqual(plan.statements);
    expect(await existingRoles()).toBe(ROLES.length);
  });

  it('changes nothing the second time: 0 statements', async () => {
    const run = await ownership(['apply', '--yes', '--database', db!.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Nothing to change: .* already enforces .* \(0 statements\)\.$/m);
    const again = json((await ownership(['apply', '--yes', '--json', '--database', db!.url])).stdout);
    expect(again).toMatchObject({ applied: false, statements: [] });
  });

  it('verify exits 0, then 3 after a hand-made GRANT with the difference and its fix, then 0 after apply', async () => {
    expect((await ownership(['verify', '--database', db!.url])).code).toBe(0);
    await admin.query(`GRANT INSERT ON ${q(audit)}.audit_log TO ${q(runtime(catalog))}`);
    const found = await ownership(['verify', '--json', '--database', db!.url]);
    expect(found.code, found.stderr).toBe(3);
    expect(json(found.stdout)).toMatchObject({
      enforced: false,
      differences: [
        {
          kind: 'extra-grant',
          object: `table ${audit}.audit_log`,
          role: runtime(catalog),
          privileges: ['INSERT'],
          fix: [`REVOKE INSERT ON TABLE ${q(audit)}.${q('audit_log')} FROM ${q(runtime(catalog))}`],
        },
      ],
    });
    const text = await ownership(['verify', '--database', db!.url]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain(`extra-grant  table ${audit}.audit_log  ${runtime(catalog)}`);
    expect(text.stdout).toContain(
      `  fix: REVOKE INSERT ON TABLE ${q(audit)}.${q('audit_log')} FROM ${q(runtime(catalog))};`,
    );
    expect((await ownership(['apply', '--yes', '--database', db!.url])).code).toBe(0);
    expect((await ownership(['verify', '--database', db!.url])).code).toBe(0);
  });

  it.runIf(terminalAvailable)('on a terminal, applies what it showed once answered "y"', async () => {
    await admin.query(`REVOKE SELECT ON ${q(catalog)}.product FROM ${q(runtime(inventory))}`);
    const run = await applyOnTerminal('y\n');
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain(
      `GRANT SELECT ON TABLE ${q(catalog)}.${q('product')} TO ${q(runtime(inventory))};`,
    );
    expect(run.stdout).toMatch(/Apply these 1 statement\(s\) to .*\? \[y\/N\]/);
    expect(run.stdout).toContain('Applied 1 statement(s)');
    expect((await ownership(['verify', '--database', db!.url])).code).toBe(0);
  });

  it("with --service, uses the service's database from the manifest and never prints its password", async () => {
    const url = new URL(db!.url);
    url.password = 'pw-s3cret-value';
    const run = await ownership(['verify', '--service', catalog], { [urlVariable]: url.toString() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(':***@');
    expect(run.stdout + run.stderr).not.toContain('pw-s3cret-value');
    const missing = await ownership(['verify', '--service', catalog]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      new RegExp(`needs the environment variable ${urlVariable}, which is not set`),
    );
    expect((await ownership(['verify', '--service', 'nobody', '--database', db!.url])).code).toBe(2);
  });

  it('lets a runtime role use the outbox and the inbox, and no other service’s table', async () => {
    const url = new URL(db!.url);
    url.username = runtime(catalog);
    const storage = createPostgresStorage({ connectionString: url.toString() });
    try {
      const outbox = createOutbox({ storage, source: catalog });
      const [envelope] = await storage.transaction(async (tx) => {
        await tx.execute("INSERT INTO product (note) VALUES ('new')");
        return outbox.append(tx, [{ type: 'product.created', key: 'p-1', data: { id: 'p-1' } }]);
      });
      const receipt = await storage.transaction((tx) =>
        storage.inbox.recordReceipt(tx, catalog, {
          messageId: envelope!.id,
          source: inventory,
          key: 's-1',
          sequence: 1,
          outcome: 'applied',
          payloadHash: null,
        }),
      );
      expect(receipt).toBe('recorded');
    } finally {
      await storage.close();
    }
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      for (const [schema, table] of BUSINESS_TABLES.filter(([owner]) => owner !== catalog)) {
        const name = `${q(schema)}.${q(table)}`;
        for (const sql of [
          `INSERT INTO ${name} DEFAULT VALUES`,
          `UPDATE ${name} SET note = 'x'`,
          `DELETE FROM ${name}`,
          `TRUNCATE ${name}`,
          `ALTER TABLE ${name} ADD COLUMN x int`,
          `DROP TABLE ${name}`,
          `CREATE TABLE ${q(schema)}.sneaky (id int)`,
        ]) {
          await expect(client.query(sql), sql).rejects.toMatchObject({ code: '42501' });
        }
      }
    } finally {
      await client.end();
    }
  });
});

describe('what the server received (inference cluster, log_statement = all)', () => {
  let infer: InferTestDatabase | null = null;
  beforeAll(async () => {
    if (db === null) return;
    infer = await createInferTestDatabase('converge ownership apply: statements captured by the server');
    if (infer === null) return;
    const client = new pg.Client({ connectionString: infer.url });
    await client.connect();
    try {
      for (const [schema, table] of BUSINESS_TABLES) {
        await client.query(`CREATE SCHEMA ${q(schema)}`);
        await client.query(`CREATE TABLE ${q(schema)}.${q(table)} (id serial PRIMARY KEY, note text)`);
      }
    } finally {
      await client.end();
    }
  });
  afterAll(async () => {
    await infer?.drop();
    if (infer !== null) {
      await dropRoles(process.env[INFER_POSTGRES_URL_ENV] ?? 'postgres://postgres@127.0.0.1:5433/postgres');
    }
  });
  beforeEach((context) => {
    if (infer === null) context.skip();
  });

  it('shows no statement from apply but catalog reads and the statements it printed', async () => {
    await infer!.resetStatistics();
    const run = await ownership(['apply', '--yes', '--json', '--database', infer!.url]);
    expect(run.code, run.stderr).toBe(0);
    const printed = (json(run.stdout).statements as { sql: string }[]).map((statement) => statement.sql);
    expect(printed.length).toBeGreaterThan(20);
    const log = readFileSync(await infer!.captureLog(), 'utf8');
    const { statements } = readPostgresLog(log, compileLogLinePrefix('%m [%p] %q%u@%d '), infer!.name);
    const sent = statements
      .map((statement) => statement.sql.trim())
      .filter((sql) => !sql.startsWith("SELECT 'converge-log-marker"));
    const unexpected = sent.filter(
      (sql) => !printed.includes(sql) && !/^(BEGIN|COMMIT|ROLLBACK)$/.test(sql) && !/^SELECT\s/.test(sql),
    );
    expect(unexpected).toEqual([]);
    // Each printed statement reached the server exactly once, in the printed order.
    expect(sent.filter((sql) => printed.includes(sql))).toEqual(printed);
  });
});
