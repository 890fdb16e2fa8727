import { describe, expect, it } from 'vitest';
import { splitSqliteStatements } from './sqlite-statements.js';

const postgres = (sql: string) => splitSqliteStatements(sql).map((statement) => statement.postgres);

describe('splitSqliteStatements', () => {
  it.each([
    ['INSERT OR REPLACE INTO stock (sku) VALUES (?)', 'INSERT INTO stock (sku) VALUES ($1)'],
    ['insert or ignore into stock values (:sku, @n, $x, ?2)', 'insert into stock values ($1, $1, $1, $1)'],
    ['REPLACE INTO stock VALUES (1)', 'INSERT INTO stock VALUES (1)'],
    ['UPDATE OR FAIL `my stock` SET n = 1', 'UPDATE "my stock" SET n = 1'],
    ["DELETE FROM [order] WHERE note = 'a;b -- ?'", 'DELETE FROM "order" WHERE note = \'a;b -- ?\''],
    ["SELECT replace(name, 'a', 'b') FROM t", "SELECT replace(name, 'a', 'b') FROM t"],
  ])('reads %j as %j', (sql, expected) => {
    expect(postgres(sql)).toEqual([expected]);
  });

  it('splits on semicolons outside literals, names and comments, and drops empty statements', () => {
    const statements = splitSqliteStatements(
      'BEGIN; -- start; here\nINSERT INTO "a;b" VALUES (\'x;y\'); /* ; */ ;PRAGMA user_version = 2',
    );
    expect(statements.map((statement) => statement.keyword)).toEqual(['BEGIN', 'INSERT', 'PRAGMA']);
    expect(statements[1]?.postgres).toBe('INSERT INTO "a;b" VALUES (\'x;y\')');
  });
});
