/**
 * Enforcement on a real PostgreSQL: after `applyEnforcement`, each service's runtime role can
 * write only what it owns and read only what the manifest lets it, and use Converge's own tables
 * (outbox, inbox) through Converge itself; `verifyEnforcement` lists
 * every hand-made change and `apply` removes them; a second `apply` plans nothing; and the client
 * sent the server nothing but the catalog queries and the plan.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../outbox/outbox.js';
import { createPostgresStorage } from '../../storage/postgres/postgres-storage.js';
import {
  createPostgresTestDatabase,
  type PostgresTestDatabase,
} from '../../testing/postgres-test-database.js';
import { quoteIdentifier } from '../identifiers.js';
import { applyEnforcement } from './apply-enforcement.js';
import { enforcementFixture, fixtureNames, fixtureRoles } from './enforcement-fixture.js';
import { serviceRoles } from './enforcement-roles.js';
import { enforcementTarget } from './enforcement-target.js';
import { type EnforcementClient, readEnforcementCatalog } from './postgres-enforcement-catalog.js';
import { verifyEnforcement } from './verify-enforcement.js';

const prefix = `t${randomBytes(4).toString('hex')}`;
const n = fixtureNames(prefix);
const manifest = enforcementFixture(prefix);
/** Converge's schema gets an owner per test file too: roles are cluster-wide. */
const scope = { convergeOwner: n.convergeOwner };
const q = quoteIdentifier;
/** A role a "colleague" creates by hand, with a hostile name. */
const hostileRole = `${prefix} x"; DROP TABLE t; --`;

let db: PostgresTestDatabase | null = null;
let client: pg.Client;

/** Every table of the database, and which runtime role may write and read it. */
const TABLES: ReadonlyArray<{ schema: string; table: string; writers: string[]; readers: string[] }> = [
  { schema: n.catalog, table: 'product', writers: [n.catalog], readers: [n.inventory] },
  { schema: n.catalog, table: 'wishlist', writers: [n.catalog], readers: [] },
  { schema: n.catalog, table: 'undeclared', writers: [n.catalog], readers: [] },
  { schema: n.inventory, table: 'product_inventory', writers: [n.inventory], readers: [n.catalog] },
  { schema: n.inventory, table: 'product_copy', writers: [n.inventory], readers: [] },
  { schema: n.audit, table: 'audit_log', writers: [n.audit], readers: [] },
  { schema: n.survey, table: 'survey', writers: [n.survey], readers: [] },
  { schema: n.domain, table: 'product_tag', writers: [n.catalog, n.inventory], readers: [] },
];
const SERVICES = [n.catalog, n.inventory, n.audit, n.survey];
/** Converge's own tables, which `converge migrate` creates (as a superuser here, before the rollout). */
const CONVERGE_TABLES = ['outbox', 'inbox_receipt', 'dead_letter', 'relay', 'schema_migrations'];

beforeAll(async () => {
  db = await createPostgresTestDatabase('ownership enforcement');
  if (!db) return;
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // The state before the rollout: schemas and tables made by a superuser's migrations.
  for (const schema of new Set(TABLES.map((t) => t.schema))) await client.query(`CREATE SCHEMA ${q(schema)}`);
  for (const { schema, table } of TABLES) {
    await client.query(`CREATE TABLE ${q(schema)}.${q(table)} (id serial PRIMARY KEY, note text)`);
  }
  const storage = createPostgresStorage({ connectionString: db.url });
  try {
    await storage.migrate();
  } finally {
    await storage.close();
  }
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
  if (!db) return;
  const admin = new pg.Client({
    connectionString: process.env.CONVERGE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  });
  await admin.connect();
  try {
    for (const role of [...fixtureRoles(prefix), hostileRole]) {
      await admin.query(`DROP ROLE IF EXISTS "${role.replaceAll('"', '""')}"`);
    }
  } finally {
    await admin.end();
  }
});

beforeEach((context) => {
  if (!db) context.skip();
});

/** A client that records the text of every statement it sends. */
function recording(inner: pg.Client): { client: EnforcementClient; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    client: {
      query: (text, values) => {
        sent.push(text);
        return inner.query(text, values);
      },
    },
  };
}

async function differences() {
  return verifyEnforcement(
    manifest,
    await readEnforcementCatalog(client, enforcementTarget(manifest, scope)),
    scope,
  );
}

/** The tables and sequences `converge migrate` made in schema converge. */
async function convergeRelations(): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'converge' AND c.relkind IN ('r', 'S')",
  );
  return rows.map((row) => row.name);
}

/** Runs `sql` as `role` in a savepoint and returns the SQLSTATE it failed with, or 'ok'. */
async function attempt(role: string, sql: string): Promise<string> {
  await client.query('SAVEPOINT attempt');
  try {
    await client.query(`SET LOCAL ROLE ${q(role)}`);
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown';
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT attempt');
  }
}

describe('applying the manifest', () => {
  it('applies every statement of the plan in one transaction and sends nothing else', async () => {
    const { client: recorder, sent } = recording(client);
    const report = await applyEnforcement(recorder, manifest, scope);
    expect(report.applied).toBe(true);
    const planned = report.statements.map((statement) => statement.sql);
    expect(planned.length).toBeGreaterThan(40);
    const catalogQueries = sent.slice(1, sent.length - planned.length - 1);
    expect(sent[0]).toBe('BEGIN');
    expect(sent.slice(sent.length - planned.length - 1, -1)).toEqual(planned);
    expect(sent.at(-1)).toBe('COMMIT');
    // The catalog queries take every name as a bind parameter: no manifest name in their text.
    for (const text of catalogQueries) {
      expect(text.trim()).toMatch(/^SELECT /);
      for (const service of SERVICES) expect(text).not.toContain(service);
    }
    // Every name in the plan is one the manifest declares (or derives), always quoted.
    const allowed = new Set([
      ...fixtureRoles(prefix),
      ...TABLES.flatMap((t) => [t.schema, t.table, `${t.table}_id_seq`]),
      ...(await convergeRelations()),
      'converge',
      'public',
      db!.url.split('/').at(-1)!,
      'postgres',
    ]);
    for (const sql of planned) {
      for (const [, name] of sql.matchAll(/"((?:[^"]|"")*)"/g)) expect(allowed).toContain(name);
      expect(sql.replaceAll(/"(?:[^"]|"")*"/g, '').replace(' SET search_path =', '')).toMatch(/^[A-Z ,.]+$/);
    }
  });

  it('lets each runtime role write only what its service owns and read only what it declares', async () => {
    await client.query('BEGIN');
    try {
      for (const service of SERVICES) {
        const role = serviceRoles(service).runtime;
        for (const { schema, table, writers, readers } of TABLES) {
          const name = `${q(schema)}.${q(table)}`;
          const writes = writers.includes(service);
          const reads = writes || readers.includes(service);
          const expected = (allowed: boolean) => (allowed ? 'ok' : '42501');
          const where = `${role} on ${schema}.${table}`;
          expect(await attempt(role, `SELECT * FROM ${name}`), `SELECT ${where}`).toBe(expected(reads));
          expect(await attempt(role, `INSERT INTO ${name} DEFAULT VALUES`), `INSERT ${where}`).toBe(
            expected(writes),
          );
          expect(await attempt(role, `UPDATE ${name} SET note = 'x'`), `UPDATE ${where}`).toBe(
            expected(writes),
          );
          expect(await attempt(role, `DELETE FROM ${name}`), `DELETE ${where}`).toBe(expected(writes));
          // Not even on its own tables: schema changes are the owner role's (migrations).
          expect(await attempt(role, `TRUNCATE ${name}`), `TRUNCATE ${where}`).toBe('42501');
          expect(await attempt(role, `ALTER TABLE ${name} ADD COLUMN x int`), `ALTER ${where}`).toBe('42501');
          expect(await attempt(role, `DROP TABLE ${name}`), `DROP ${where}`).toBe('42501');
          expect(
            await attempt(role, `CREATE TABLE ${q(schema)}.sneaky (id int)`),
            `CREATE in ${schema}`,
          ).toBe('42501');
        }
        expect(await attempt(role, 'CREATE TABLE public.sneaky (id int)'), `${role} CREATE in public`).toBe(
          '42501',
        );
        // Converge's tables: DML (through Converge, below), never their definition, and the
        // migration history only read.
        for (const table of CONVERGE_TABLES) {
          const name = `converge.${q(table)}`;
          expect(await attempt(role, `SELECT * FROM ${name}`), `SELECT ${role} on ${name}`).toBe('ok');
          for (const sql of [
            `TRUNCATE ${name}`,
            `ALTER TABLE ${name} ADD COLUMN x int`,
            `DROP TABLE ${name}`,
          ]) {
            expect(await attempt(role, sql), `${sql} as ${role}`).toBe('42501');
          }
        }
        expect(
          await attempt(role, 'CREATE TABLE converge.sneaky (id int)'),
          `${role} CREATE in converge`,
        ).toBe('42501');
        expect(
          await attempt(role, "INSERT INTO converge.schema_migrations (version, name) VALUES (99, 'x')"),
          `${role} INSERT into converge.schema_migrations`,
        ).toBe('42501');
        expect(await attempt(role, 'DELETE FROM converge.schema_migrations'), `${role} DELETE`).toBe('42501');
        expect(await attempt(role, 'CREATE SCHEMA sneaky'), `${role} CREATE SCHEMA`).toBe('42501');
      }
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('leaves nothing to verify, and a second apply plans zero statements', async () => {
    expect(await differences()).toEqual([]);
    const { client: recorder, sent } = recording(client);
    const again = await applyEnforcement(recorder, manifest, scope);
    expect(again.statements).toEqual([]);
    expect(again.applied).toBe(false);
    expect(sent.filter((text) => !/^\s*SELECT /.test(text))).toEqual(['BEGIN', 'ROLLBACK']);
  });

  it('pins search_path and makes the runtime roles log in, the owner roles not', async () => {
    const { rows } = await client.query(
      `SELECT rolname, rolcanlogin, rolsuper, (SELECT setconfig FROM pg_db_role_setting WHERE setrole = r.oid AND setdatabase = 0) AS setconfig
       FROM pg_roles r WHERE rolname = ANY($1::text[]) ORDER BY 1`,
      [[serviceRoles(n.catalog).owner, serviceRoles(n.catalog).runtime]],
    );
    expect(rows).toEqual([
      {
        rolname: `${n.catalog}_owner`,
        rolcanlogin: false,
        rolsuper: false,
        setconfig: [`search_path=${n.catalog}, ${n.domain}`],
      },
      {
        rolname: `${n.catalog}_runtime`,
        rolcanlogin: true,
        rolsuper: false,
        setconfig: [`search_path=${n.catalog}, ${n.domain}`],
      },
    ]);
  });

  it('lets a service that logs in as its runtime role use its tables unqualified (pinned search_path)', async () => {
    const url = new URL(db!.url);
    url.username = serviceRoles(n.catalog).runtime;
    const runtime = new pg.Client({ connectionString: url.toString() });
    await runtime.connect();
    try {
      const { rows } = await runtime.query(
        'INSERT INTO product DEFAULT VALUES RETURNING current_user AS who',
      );
      expect(rows).toEqual([{ who: serviceRoles(n.catalog).runtime }]);
      await runtime.query('INSERT INTO product_tag DEFAULT VALUES');
      await expect(runtime.query(`INSERT INTO ${q(n.audit)}.audit_log DEFAULT VALUES`)).rejects.toMatchObject(
        {
          code: '42501',
        },
      );
    } finally {
      await runtime.end();
    }
  });

  it('lets a service use Converge as its runtime role: outbox with its change, relay, inbox receipts', async () => {
    const url = new URL(db!.url);
    url.username = serviceRoles(n.inventory).runtime;
    const storage = createPostgresStorage({ connectionString: url.toString() });
    try {
      await storage.assertSchemaCurrent();
      const outbox = createOutbox({ storage, source: n.inventory });
      const [envelope] = await storage.transaction(async (tx) => {
        await tx.execute("INSERT INTO product_inventory (note) VALUES ('restocked')");
        return outbox.append(tx, [{ type: 'stock.changed', key: 'sku-1', data: { sku: 'sku-1' } }]);
      });
      const claim = await storage.outbox.claim({ relayId: 'relay-1', limit: 10, leaseMs: 30_000 });
      expect(claim?.rows.map((row) => row.envelope.id)).toEqual([envelope!.id]);
      await claim!.markPublished();
      await storage.outbox.recordHeartbeat({
        relayId: 'relay-1',
        host: null,
        pid: null,
        heartbeatIntervalMs: 5_000,
        startedAt: new Date(),
        published: 1,
        lastPublishedAt: new Date(),
        consecutiveFailures: 0,
        lastError: null,
        lastErrorAt: null,
        stopped: true,
      });
      const recorded = await storage.transaction(async (tx) => {
        await storage.inbox.lockKey(tx, n.inventory, n.catalog, 'p-1');
        await storage.inbox.setKey(tx, n.inventory, n.catalog, 'p-1', { lastSequence: 1, blockedBy: null });
        return storage.inbox.recordReceipt(tx, n.inventory, {
          messageId: envelope!.id,
          source: n.catalog,
          key: 'p-1',
          sequence: 1,
          outcome: 'applied',
          payloadHash: null,
        });
      });
      expect(recorded).toBe('recorded');
      // Its business tables are still only its own, also inside a Converge transaction.
      await expect(
        storage.transaction((tx) => tx.execute(`UPDATE ${q(n.catalog)}.product SET note = 'x'`)),
      ).rejects.toMatchObject({ code: '42501' });
    } finally {
      await storage.close();
    }
  });

  it("gives a table the owner's migration creates later to the runtime role at once, and to no one else", async () => {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL ROLE ${q(serviceRoles(n.catalog).owner)}`);
      await client.query(`CREATE TABLE ${q(n.catalog)}.later (id serial PRIMARY KEY)`);
      await client.query('RESET ROLE');
      expect(
        await attempt(serviceRoles(n.catalog).runtime, `INSERT INTO ${q(n.catalog)}.later DEFAULT VALUES`),
      ).toBe('ok');
      expect(await attempt(serviceRoles(n.inventory).runtime, `SELECT * FROM ${q(n.catalog)}.later`)).toBe(
        '42501',
      );
      expect(await differences()).toEqual([]);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

describe('verify after hand-made changes', () => {
  it('lists each change, and apply removes every one of them', async () => {
    const catalog = serviceRoles(n.catalog);
    await client.query(`GRANT INSERT ON ${q(n.audit)}.audit_log TO ${q(catalog.runtime)}`);
    await client.query(`CREATE ROLE "${hostileRole.replaceAll('"', '""')}"`);
    await client.query(`GRANT SELECT ON ${q(n.survey)}.survey TO "${hostileRole.replaceAll('"', '""')}"`);
    await client.query(
      `GRANT UPDATE (note) ON ${q(n.catalog)}.product TO ${q(serviceRoles(n.audit).runtime)}`,
    );
    await client.query(
      `REVOKE DELETE ON ${q(n.inventory)}.product_copy FROM ${q(serviceRoles(n.inventory).runtime)}`,
    );
    await client.query(`ALTER TABLE ${q(n.survey)}.survey OWNER TO postgres`);
    await client.query(`GRANT ${q(catalog.owner)} TO ${q(catalog.runtime)}`);
    await client.query(`ALTER ROLE ${q(catalog.runtime)} SET search_path = public`);
    await client.query(`ALTER ROLE ${q(serviceRoles(n.audit).runtime)} SUPERUSER`);
    await client.query(`GRANT CREATE ON SCHEMA public TO PUBLIC`);
    await client.query(`GRANT CREATE ON SCHEMA ${q(n.domain)} TO ${q(serviceRoles(n.inventory).runtime)}`);
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(catalog.owner)} IN SCHEMA ${q(n.catalog)} GRANT SELECT ON TABLES TO PUBLIC`,
    );

    const found = await differences();
    const summary = found.map((d) => `${d.kind} ${d.object}${d.role === undefined ? '' : ` ${d.role}`}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        `role-attributes role ${serviceRoles(n.audit).runtime}`,
        `role-membership role ${catalog.runtime} ${catalog.owner}`,
        'extra-grant schema public PUBLIC',
        `extra-grant schema ${n.domain} ${serviceRoles(n.inventory).runtime}`,
        `wrong-owner table ${n.survey}.survey`,
        `extra-grant table ${n.audit}.audit_log ${catalog.runtime}`,
        `extra-grant table ${n.survey}.survey ${hostileRole}`,
        `extra-grant table ${n.catalog}.product ${serviceRoles(n.audit).runtime}`,
        `missing-grant table ${n.inventory}.product_copy ${serviceRoles(n.inventory).runtime}`,
        `extra-default-privilege default privileges for tables ${catalog.owner} creates in schema ${n.catalog} PUBLIC`,
        `search-path role ${catalog.runtime}`,
      ]),
    );
    expect(found).toHaveLength(11);

    const report = await applyEnforcement(client, manifest, scope);
    expect(report.statements.map((s) => s.sql)).toContain(
      `REVOKE SELECT ON TABLE ${q(n.survey)}.${q('survey')} FROM "${hostileRole.replaceAll('"', '""')}"`,
    );
    expect(await differences()).toEqual([]);
    expect((await applyEnforcement(client, manifest, scope)).statements).toEqual([]);
    await client.query(`DROP ROLE "${hostileRole.replaceAll('"', '""')}"`);
  });

  it('runs nothing when the database changed after the plan was reviewed', async () => {
    const catalog = serviceRoles(n.catalog);
    const reviewed = (await applyEnforcement(client, manifest, { ...scope, dryRun: true })).statements;
    expect(reviewed).toEqual([]);
    await client.query(`GRANT INSERT ON ${q(n.audit)}.audit_log TO ${q(catalog.runtime)}`);
    await expect(
      applyEnforcement(client, manifest, { ...scope, expected: reviewed.map((s) => s.sql) }),
    ).rejects.toMatchObject({ code: 'OWNERSHIP_PLAN_CHANGED' });
    expect((await differences()).map((d) => `${d.kind} ${d.role}`)).toEqual([
      `extra-grant ${catalog.runtime}`,
    ]);
    await applyEnforcement(client, manifest, scope);
    expect(await differences()).toEqual([]);
  });

  it('reports a declared table that does not exist, which apply cannot create', async () => {
    await client.query(`ALTER TABLE ${q(n.catalog)}.wishlist RENAME TO wishlist_old`);
    try {
      const found = await differences();
      expect(found.map((d) => `${d.kind} ${d.object}`)).toEqual([
        `table-missing table ${n.catalog}.wishlist`,
      ]);
      expect(found[0]!.fix).toEqual([]);
    } finally {
      await client.query(`ALTER TABLE ${q(n.catalog)}.wishlist_old RENAME TO wishlist`);
    }
  });
});

describe('hostile names', () => {
  const hostile = [
    `${prefix}"; DROP ROLE postgres; --`,
    `${prefix}; SELECT 1`,
    `${prefix}--x`,
    `${prefix}/*x*/`,
    `${prefix}_cаtalog`, // Cyrillic а
    `${prefix}_${'x'.repeat(60)}`,
    'select',
    `${prefix}_Catalog`,
    '',
    `${prefix}\0x`,
  ];
  it.each(hostile)('rejects %j before sending anything to the server', async (name) => {
    const service = { ...manifest.services[0]!, reads: [] };
    const variants = [
      { ...manifest, services: [{ ...service, name, schema: n.catalog }] },
      { ...manifest, services: [{ ...service, schema: name }] },
      { ...manifest, services: [{ ...service, owns: [name] }] },
    ];
    for (const variant of variants) {
      const { client: recorder, sent } = recording(client);
      await expect(applyEnforcement(recorder, { ...variant, shared: [], copies: [] })).rejects.toMatchObject({
        code: 'IDENTIFIER_INVALID',
      });
      expect(sent).toEqual([]);
    }
  });

  it('rejects a service name that fits 63 bytes when its role names do not', async () => {
    const name = `${prefix}_${'x'.repeat(63 - prefix.length - 1 - '_owner'.length + 1)}`;
    const service = { ...manifest.services[0]!, name, reads: [] };
    const { client: recorder, sent } = recording(client);
    await expect(
      applyEnforcement(recorder, { ...manifest, services: [service], shared: [], copies: [] }),
    ).rejects.toThrow(/owner role name of service .* is 64 bytes long/);
    expect(sent).toEqual([]);
  });
});
