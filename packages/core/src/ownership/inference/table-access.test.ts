import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser, type SqlParser } from './sql-parser.js';
import { tableAccessOf } from './table-access.js';

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadSqlParser();
});

/** `schema.name:access` (or `name:access`) for each reference, sorted, without repeats. */
function access(sql: string): string[] {
  const refs = tableAccessOf(parser.parse(sql)).map(
    (ref) => `${ref.schema === undefined ? '' : `${ref.schema}.`}${ref.name}:${ref.access}`,
  );
  return [...new Set(refs)].sort();
}

describe('tableAccessOf', () => {
  it('classifies the target of each DML statement as written and its sources as read', () => {
    expect(access('INSERT INTO billing.payment (id) SELECT id FROM support.contract')).toEqual([
      'billing.payment:write',
      'support.contract:read',
    ]);
    expect(
      access('UPDATE support.contract c SET status = $1 FROM customer.customer p WHERE p.id = c.id'),
    ).toEqual(['customer.customer:read', 'support.contract:write']);
    expect(access('DELETE FROM a USING b WHERE a.id = b.id AND a.x IN (SELECT x FROM c)')).toEqual([
      'a:write',
      'b:read',
      'c:read',
    ]);
    expect(access('MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v')).toEqual([
      's:read',
      't:write',
    ]);
    expect(access('TRUNCATE a.b, c')).toEqual(['a.b:write', 'c:write']);
    expect(access('SELECT * FROM a JOIN b ON a.id = b.id WHERE EXISTS (SELECT 1 FROM c)')).toEqual([
      'a:read',
      'b:read',
      'c:read',
    ]);
  });

  it('names the operation', () => {
    const ops = tableAccessOf(
      parser.parse('INSERT INTO a VALUES ($1); UPDATE b SET x = 1; DELETE FROM c'),
    ).map((ref) => ref.operation);
    expect(ops).toEqual(['insert', 'update', 'delete']);
  });

  it('does not take CTE names for tables, and reads what the CTEs read', () => {
    expect(
      access(
        'WITH open AS (SELECT id FROM support.contract WHERE status = $1), mine AS (SELECT * FROM open) ' +
          'UPDATE billing.payment p SET due = 0 FROM mine WHERE p.contract_id = mine.id',
      ),
    ).toEqual(['billing.payment:write', 'support.contract:read']);
    expect(
      access('WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r'),
    ).toEqual([]);
  });

  it('does not let a CTE hide a table outside its scope, nor a qualified name', () => {
    expect(access('SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t')).toEqual(['t:read']);
    expect(access('WITH contract AS (SELECT 1) SELECT * FROM support.contract')).toEqual([
      'support.contract:read',
    ]);
    // A non-recursive CTE cannot see itself: `t` inside its own body is the table.
    expect(access('WITH t AS (SELECT * FROM t) SELECT * FROM t')).toEqual(['t:read']);
  });

  it('scopes a WITH inside a set operation arm', () => {
    expect(access('(WITH x AS (SELECT * FROM a) SELECT * FROM x) UNION SELECT * FROM b')).toEqual([
      'a:read',
      'b:read',
    ]);
  });

  it('counts data-modifying CTEs as writes', () => {
    expect(
      access(
        'WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO archive SELECT * FROM moved',
      ),
    ).toEqual(['archive:write', 'queue:write']);
  });

  it('classifies COPY, SELECT INTO, CREATE TABLE AS and DDL', () => {
    expect(access('COPY a.b FROM STDIN')).toEqual(['a.b:write']);
    expect(access('COPY a.b TO STDOUT')).toEqual(['a.b:read']);
    expect(access('COPY (SELECT * FROM x) TO STDOUT')).toEqual(['x:read']);
    expect(access('SELECT * INTO n FROM o')).toEqual(['n:write', 'o:read']);
    expect(access('CREATE TABLE z AS SELECT * FROM y')).toEqual(['y:read', 'z:write']);
    expect(access('CREATE TABLE s.t (id int REFERENCES s.u)')).toEqual(['s.t:write']);
    expect(access('ALTER TABLE q ADD COLUMN c int')).toEqual(['q:write']);
    expect(access('DROP TABLE a.b, c')).toEqual(['a.b:write', 'c:write']);
    expect(access('CREATE INDEX ON w (c)')).toEqual(['w:write']);
    expect(access('ALTER TABLE r RENAME TO r2')).toEqual(['r:write']);
  });

  it('yields nothing for statements that touch no table data, and what EXPLAIN ANALYZE runs', () => {
    expect(
      access('SET search_path = x; BEGIN; COMMIT; GRANT SELECT ON a TO b; LOCK TABLE t; SELECT 1'),
    ).toEqual([]);
    expect(access('EXPLAIN SELECT * FROM t')).toEqual([]);
    expect(access('EXPLAIN ANALYZE DELETE FROM t')).toEqual(['t:write']);
    expect(access("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'")).toEqual([]);
  });

  it('reads subqueries anywhere in an expression and in ON CONFLICT and RETURNING', () => {
    expect(
      access(
        'INSERT INTO a (id) VALUES ((SELECT max(id) FROM b)) ON CONFLICT (id) DO UPDATE SET x = (SELECT x FROM c) RETURNING (SELECT 1 FROM d)',
      ),
    ).toEqual(['a:write', 'b:read', 'c:read', 'd:read']);
  });

  it('throws on text that is not SQL (the caller counts it)', () => {
    expect(() => parser.parse('SELEC x')).toThrow(/syntax error/);
  });
});
