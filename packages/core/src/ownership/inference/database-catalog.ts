/**
 * What inference needs to know about the database the traffic ran on: which tables exist, each
 * role's `search_path`, and which roles are superusers. Read with a handful of catalog queries
 * through any `query` function (a Converge storage transaction's `tx.query`, or a `pg` client
 * wrapped), so this module loads no driver.
 */

/** Runs one SQL query with bind parameters and returns its rows. */
export type SqlQuery = (sql: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/** The catalog facts inference uses. */
export interface DatabaseCatalog {
  /** `current_database()`. */
  readonly database: string;
  /** Every table, view, materialized view and foreign table, as `schema.name`. */
  readonly relations: ReadonlySet<string>;
  readonly schemas: ReadonlySet<string>;
  /**
   * Each role's `search_path` as set with `ALTER ROLE … [IN DATABASE …] SET search_path`, split
   * into schema names (`$user` kept as is). Roles without one use `defaultSearchPath`.
   */
  readonly searchPaths: ReadonlyMap<string, readonly string[]>;
  /** The database's (or else the server's) `search_path`; PostgreSQL's own default is `"$user", public`. */
  readonly defaultSearchPath: readonly string[];
  readonly superusers: ReadonlySet<string>;
}

/**
 * Reads the catalog of the database `query` is connected to.
 *
 * @example const catalog = await readDatabaseCatalog((sql, params) => tx.query(sql, params));
 */
export async function readDatabaseCatalog(query: SqlQuery): Promise<DatabaseCatalog> {
  const [database] = await query('SELECT current_database() AS name');
  const relations = await query(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
  );
  const schemas = await query('SELECT nspname AS name FROM pg_namespace');
  const settings = await query(
    `SELECT r.rolname AS role, s.setdatabase <> 0 AS in_database, substr(c.setting, 13) AS path
       FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
      CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting)
      WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
        AND c.setting LIKE 'search_path=%'`,
  );
  const [server] = await query(`SELECT boot_val AS value FROM pg_settings WHERE name = 'search_path'`);
  const superusers = await query('SELECT rolname AS name FROM pg_roles WHERE rolsuper');

  const searchPaths = new Map<string, readonly string[]>();
  let databasePath: readonly string[] | undefined;
  // A role's setting for this database beats its setting for all databases, so those come last.
  const ordered = [...settings].sort(
    (a, b) => Number(a.in_database === true) - Number(b.in_database === true),
  );
  for (const row of ordered) {
    const path = parseSearchPath(String(row.path ?? ''));
    if (typeof row.role === 'string') searchPaths.set(row.role, path);
    else if (row.in_database === true) databasePath = path;
  }
  return Object.freeze({
    database: String(database?.name ?? ''),
    relations: new Set(relations.map((row) => `${String(row.schema)}.${String(row.name)}`)),
    schemas: new Set(schemas.map((row) => String(row.name))),
    searchPaths,
    defaultSearchPath: databasePath ?? parseSearchPath(String(server?.value ?? '"$user", public')),
    superusers: new Set(superusers.map((row) => String(row.name))),
  });
}

/**
 * Splits a `search_path` value into schema names: `"$user", public` → `['$user', 'public']`.
 * Quoted names keep their case; unquoted ones are folded to lower case, as PostgreSQL does.
 */
export function parseSearchPath(value: string): readonly string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) =>
      part.startsWith('"') && part.endsWith('"') && part.length >= 2
        ? part.slice(1, -1).replaceAll('""', '"')
        : part.toLowerCase(),
    );
}
