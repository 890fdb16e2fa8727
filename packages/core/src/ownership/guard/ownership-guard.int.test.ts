/**
 * The ownership guard on a real SQLite file: inventory's handler writes its own table and
 * Converge's outbox through the guarded transaction; a write to catalog's table throws
 * OWNERSHIP_VIOLATION before it runs, so the file is unchanged; reads pass; the raw better-sqlite3
 * handle of the guarded transaction is guarded too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConvergeError } from '../../core/errors.js';
import { createOutbox } from '../../outbox/outbox.js';
import type { Storage } from '../../ports/storage.js';
import { createSqliteStorage } from '../../storage/sqlite/sqlite-storage.js';
import type { Manifest, ServiceDeclaration } from '../manifest.js';
import { createOwnershipGuard, type OwnershipGuard } from './ownership-guard.js';

const service = (name: string, owns: string[], reads: [string, string][] = []): ServiceDeclaration => ({
  name,
  database: `sqlite:${name}.db`,
  schema: name,
  owns,
  reads: reads.map(([owner, table]) => ({ service: owner, table })),
  writes: [],
});
const manifest: Manifest = {
  version: 1,
  services: [
    service('catalog', ['product']),
    service('inventory', ['stock', 'product_copy'], [['catalog', 'product']]),
    service('audit', ['audit_log']),
  ],
  shared: [{ table: 'audit_log', ownership: 'common', owner: 'audit', writers: ['inventory'] }],
  copies: [],
};

const dir = mkdtempSync(join(tmpdir(), 'converge-guard-'));
const file = join(dir, 'inventory.db');
let storage: Storage;
let guard: OwnershipGuard;

beforeAll(async () => {
  // The service's file holds a table it does not own (catalog's product, say from an old
  // monolith) and the common audit log: the guard, not the file, says who may write them.
  const setup = new Database(file);
  setup.exec(`CREATE TABLE stock (sku TEXT PRIMARY KEY, count INTEGER NOT NULL);
    CREATE TABLE product (id TEXT PRIMARY KEY, price INTEGER NOT NULL);
    CREATE TABLE audit_log (id INTEGER PRIMARY KEY, note TEXT);
    INSERT INTO product VALUES ('p-1', 100);`);
  setup.close();
  storage = createSqliteStorage({ path: file });
  await storage.migrate();
  guard = await createOwnershipGuard({ manifest, service: 'inventory' });
});

afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The whole file's rows of `product`, `stock` and `audit_log`. */
function contents(): unknown {
  const db = new Database(file, { readonly: true });
  try {
    return ['product', 'stock', 'audit_log'].map((table) => db.prepare(`SELECT * FROM ${table}`).all());
  } finally {
    db.close();
  }
}

describe('a guarded transaction', () => {
  it('runs writes to owned tables and Converge’s outbox, and reads of any table', async () => {
    const outbox = createOutbox({ storage, source: 'inventory' });
    await storage.transaction(async (tx) => {
      const guarded = guard.transaction(tx);
      await guarded.execute('INSERT OR REPLACE INTO stock (sku, count) VALUES (?, ?)', ['sku-1', 5]);
      await guarded.execute('UPDATE stock SET count = count - 1 WHERE sku = ?', ['sku-1']);
      expect(await guarded.query('SELECT price FROM product WHERE id = ?', ['p-1'])).toEqual([
        { price: 100 },
      ]);
      await outbox.append(guarded, [{ type: 'stock.changed', key: 'sku-1', data: { count: 4 } }]);
    });
    expect((contents() as unknown[][])[1]).toEqual([{ sku: 'sku-1', count: 4 }]);
    expect((await storage.outbox.status()).backlog).toBe(1);
  });

  it.each([
    ['UPDATE product SET price = 0', 'product', 'update'],
    ["INSERT INTO product VALUES ('p-2', 1)", 'product', 'insert'],
    ["REPLACE INTO product VALUES ('p-1', 0)", 'product', 'insert'],
    ["INSERT INTO product VALUES ('p-1', 0) ON CONFLICT (id) DO UPDATE SET price = 0", 'product', 'insert'],
    ['DELETE FROM product', 'product', 'delete'],
    ['DROP TABLE product', 'product', 'ddl'],
    ['ALTER TABLE product ADD COLUMN x INTEGER', 'product', 'ddl'],
    ["INSERT INTO audit_log (note) VALUES ('x')", 'audit_log', 'insert'],
    ['WITH gone AS (DELETE FROM product RETURNING id) SELECT count(*) FROM gone', 'product', 'delete'],
  ])('refuses %j before it runs, and leaves the file unchanged', async (sql, table, operation) => {
    const before = readFileSync(file);
    const rows = contents();
    const error = await storage
      .transaction(async (tx) => {
        const guarded = guard.transaction(tx);
        await guarded.execute('UPDATE stock SET count = 0');
        await guarded.execute(sql);
      })
      .catch((caught: unknown) => caught);
    expect(isConvergeError(error) && error.code).toBe('OWNERSHIP_VIOLATION');
    expect((error as Error).message).toContain(
      `Service 'inventory' may not write table '${table}' (${operation})`,
    );
    expect((error as { details: unknown }).details).toMatchObject({ service: 'inventory', table, operation });
    expect(contents()).toEqual(rows);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('names the owner and the remedy, for a common table too', () => {
    expect(() => guard.check('UPDATE product SET price = 1')).toThrow(
      /it is owned by catalog; ask catalog to write it \(send a message or call its API\)/,
    );
    expect(() => guard.check("INSERT INTO audit_log (note) VALUES ('x')")).toThrow(
      /common, owner audit; ask audit/,
    );
    expect(() => guard.check('DELETE FROM unknown_table')).toThrow(/no service owns it in the manifest/);
  });

  it('guards the raw better-sqlite3 handle of a guarded transaction as well', async () => {
    await expect(
      storage.transaction(async (tx) => {
        const raw = guard.transaction(tx).raw as Database.Database;
        raw.prepare('UPDATE stock SET count = 7').run();
        raw.prepare('UPDATE product SET price = 7').run();
      }),
    ).rejects.toMatchObject({ code: 'OWNERSHIP_VIOLATION' });
    expect((contents() as { price: number }[][])[0]?.[0]?.price).toBe(100);
  });

  it('refuses what it cannot parse, and an attached database’s table', () => {
    expect(() => guard.check("ATTACH DATABASE 'catalog.db' AS catalog")).toThrow(
      expect.objectContaining({ code: 'OWNERSHIP_GUARD_UNPARSABLE' }),
    );
    expect(() => guard.check('UPDATE catalog.product SET price = 0')).toThrow(/attached database 'catalog'/);
    expect(() => guard.check('UPDATE main.stock SET count = 0')).not.toThrow();
  });
});

describe('a guarded better-sqlite3 Database', () => {
  it('checks prepare and exec, passes reads and owned writes, and refuses the rest', () => {
    const db = guard.database(new Database(file));
    try {
      expect(db.prepare('SELECT count(*) AS n FROM product').get()).toEqual({ n: 1 });
      db.exec("BEGIN; UPDATE stock SET count = 9 WHERE sku = 'sku-1'; COMMIT;");
      expect(() => db.exec('BEGIN; UPDATE stock SET count = 1; DELETE FROM product; COMMIT;')).toThrow(
        /may not write table 'product' \(delete\)/,
      );
      expect(db.inTransaction).toBe(false);
      expect((contents() as unknown[][])[0]).toHaveLength(1);
      expect((contents() as { count: number }[][])[1]?.[0]?.count).toBe(9);
    } finally {
      db.close();
    }
  });
});

it('rejects a service the manifest does not declare', async () => {
  await expect(createOwnershipGuard({ manifest, service: 'nobody' })).rejects.toMatchObject({
    code: 'OWNERSHIP_SERVICE_NOT_FOUND',
  });
});
