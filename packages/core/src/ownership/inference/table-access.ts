/**
 * Which tables one SQL statement reads and which it writes, from PostgreSQL's own parse tree
 * (libpg_query JSON: a node is `{ "InsertStmt": { … } }`; a field typed as one struct, such as
 * `UpdateStmt.relation`, holds the struct without the wrapper).
 *
 * Written: the target of INSERT, UPDATE, DELETE, MERGE and TRUNCATE, `COPY … FROM`, `SELECT … INTO`
 * and `CREATE TABLE … AS`, and the table of CREATE TABLE, ALTER TABLE, DROP TABLE, CREATE INDEX,
 * ALTER TABLE … RENAME and REFRESH MATERIALIZED VIEW (DDL, reported as operation `ddl`). Read: every
 * other table reference — FROM and JOIN items, subqueries in any expression, CTE bodies,
 * `UPDATE … FROM`, `DELETE … USING`, `MERGE … USING`, the SELECT feeding an INSERT, `COPY (query)
 * TO` and `COPY table TO`. Data-modifying CTEs (`WITH moved AS (DELETE FROM …)`) count as writes.
 *
 * A reference to a CTE is not a table: WITH scopes are tracked (a non-recursive CTE sees the ones
 * before it, a recursive one also itself, the statement body all of them), and an unqualified
 * name that matches a CTE in scope is skipped. Statements that touch no table's data (SET, BEGIN,
 * GRANT, CREATE FUNCTION, VACUUM, LOCK, plain EXPLAIN, …) yield nothing; EXPLAIN ANALYZE yields
 * what it runs. What functions, triggers, rules and dynamic SQL do inside the server is invisible
 * here — the statement text is all there is.
 */

/** Whether a statement changes a table's rows or definition, or only reads it. */
export type Access = 'read' | 'write';

/** What the statement does to the table. */
export type TableOperation =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'truncate'
  | 'copy'
  | 'ddl';

/** One table a statement names, as written (the schema is absent when the name is unqualified). */
export interface TableReference {
  readonly schema: string | undefined;
  readonly name: string;
  readonly access: Access;
  readonly operation: TableOperation;
}

type AstObject = { readonly [key: string]: unknown };

/**
 * The tables the parsed statements (`parse(sql).stmts`) read and write, in the order they appear,
 * with repeats.
 *
 * @example tableAccessOf(parser.parse('UPDATE a SET x = 1 FROM b')) // [{ name: 'a', access: 'write', … }, { name: 'b', access: 'read', … }]
 */
export function tableAccessOf(parsed: {
  readonly stmts?: readonly { readonly stmt?: unknown }[];
}): TableReference[] {
  const walker = new AccessWalker();
  for (const entry of parsed.stmts ?? []) walker.statement(entry.stmt);
  return walker.references;
}

const DROPPED_RELATIONS: ReadonlySet<string> = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
]);

class AccessWalker {
  readonly references: TableReference[] = [];
  /** CTE names visible at this point, innermost WITH last. */
  private readonly scopes: Set<string>[] = [];

  /** A top-level statement: only the kinds listed here touch table data. */
  statement(node: unknown): void {
    const [kind, body] = unwrap(node);
    if (body === undefined) return;
    switch (kind) {
      case 'SelectStmt':
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        this.visit(node);
        return;
      case 'TruncateStmt':
        for (const relation of list(body.relations)) this.relation(unwrap(relation)[1], 'write', 'truncate');
        return;
      case 'CopyStmt':
        this.relation(object(body.relation), body.is_from === true ? 'write' : 'read', 'copy');
        this.visit(body.query);
        return;
      case 'CreateTableAsStmt':
        this.relation(object(object(body.into)?.rel), 'write', 'ddl');
        this.visit(body.query);
        return;
      case 'CreateStmt':
      case 'IndexStmt':
      case 'RefreshMatViewStmt':
        this.relation(object(body.relation), 'write', 'ddl');
        return;
      case 'AlterTableStmt':
        if (body.objtype === 'OBJECT_TABLE') this.relation(object(body.relation), 'write', 'ddl');
        return;
      case 'RenameStmt':
        if (body.renameType === 'OBJECT_TABLE' || body.renameType === 'OBJECT_COLUMN') {
          this.relation(object(body.relation), 'write', 'ddl');
        }
        return;
      case 'DropStmt':
        if (typeof body.removeType === 'string' && DROPPED_RELATIONS.has(body.removeType)) this.dropped(body);
        return;
      case 'ExplainStmt':
        if (list(body.options).some((option) => unwrap(option)[1]?.defname === 'analyze')) {
          this.statement(body.query);
        }
        return;
      case 'PrepareStmt':
      case 'DeclareCursorStmt':
        this.statement(body.query);
        return;
      default:
        return;
    }
  }

  /** Any node inside a DML statement: dispatches the node kinds that matter, recurses into the rest. */
  private visit(value: unknown): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item);
      return;
    }
    const node = object(value);
    if (node === undefined) return;
    for (const [key, child] of Object.entries(node)) {
      const body = object(child);
      if (body !== undefined && this.special(key, body)) continue;
      this.visit(child);
    }
  }

  /** Handles `{ key: body }` when `key` names a node kind that is a table or opens a scope. */
  private special(key: string, body: AstObject): boolean {
    switch (key) {
      case 'RangeVar':
        this.relation(body, 'read', 'select');
        return true;
      case 'SelectStmt':
        this.select(body);
        return true;
      case 'InsertStmt':
        this.modify(body, 'insert');
        return true;
      case 'UpdateStmt':
        this.modify(body, 'update');
        return true;
      case 'DeleteStmt':
        this.modify(body, 'delete');
        return true;
      case 'MergeStmt':
        this.modify(body, 'merge');
        return true;
      default:
        return false;
    }
  }

  /**
   * INSERT, UPDATE, DELETE or MERGE: `relation` is written; every other field (the SELECT or VALUES
   * feeding an INSERT, SET and WHERE expressions, FROM/USING items, ON CONFLICT, RETURNING) is read.
   */
  private modify(body: AstObject, operation: TableOperation): void {
    this.withScope(body.withClause, () => {
      this.relation(object(body.relation), 'write', operation);
      for (const [key, child] of Object.entries(body)) {
        if (key !== 'relation' && key !== 'withClause') this.visit(child);
      }
    });
  }

  /** A SELECT; its set-operation arms (`larg`, `rarg`) are unwrapped SELECTs with their own WITH. */
  private select(body: AstObject): void {
    this.withScope(body.withClause, () => {
      const into = object(body.intoClause);
      if (into !== undefined) this.relation(object(into.rel), 'write', 'ddl');
      for (const [key, child] of Object.entries(body)) {
        if (key === 'withClause' || key === 'intoClause') continue;
        const arm = object(child);
        if ((key === 'larg' || key === 'rarg') && arm !== undefined) this.select(arm);
        else this.visit(child);
      }
    });
  }

  /** Runs `body` with the CTEs of `withClause` in scope, after walking each CTE's query. */
  private withScope(withClause: unknown, body: () => void): void {
    const clause = object(withClause);
    if (clause === undefined) {
      body();
      return;
    }
    const scope = new Set<string>();
    this.scopes.push(scope);
    try {
      const ctes = list(clause.ctes).map((cte) => unwrap(cte)[1]);
      if (clause.recursive === true) for (const cte of ctes) addName(scope, cte?.ctename);
      for (const cte of ctes) {
        this.visit(cte?.ctequery);
        addName(scope, cte?.ctename);
      }
      body();
    } finally {
      this.scopes.pop();
    }
  }

  private relation(range: AstObject | undefined, access: Access, operation: TableOperation): void {
    if (range === undefined || typeof range.relname !== 'string') return;
    const schema = typeof range.schemaname === 'string' ? range.schemaname : undefined;
    if (schema === undefined && this.scopes.some((scope) => scope.has(range.relname as string))) return;
    this.references.push({ schema, name: range.relname, access, operation });
  }

  private dropped(body: AstObject): void {
    for (const item of list(body.objects)) {
      const names = list(unwrap(item)[1]?.items)
        .map((part) => unwrap(part)[1]?.sval)
        .filter((part): part is string => typeof part === 'string');
      const name = names.at(-1);
      if (name === undefined) continue;
      const schema = names.length >= 2 ? names.at(-2) : undefined;
      this.references.push({ schema, name, access: 'write', operation: 'ddl' });
    }
  }
}

function object(value: unknown): AstObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as AstObject)
    : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `{ Kind: body }` → `[Kind, body]`. */
function unwrap(node: unknown): [string, AstObject | undefined] {
  const wrapper = object(node);
  const entry = wrapper === undefined ? undefined : Object.entries(wrapper)[0];
  return entry === undefined ? ['', undefined] : [entry[0], object(entry[1])];
}

function addName(scope: Set<string>, name: unknown): void {
  if (typeof name === 'string') scope.add(name);
}
