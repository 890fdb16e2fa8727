/**
 * Turns a table name as a statement wrote it into `schema.table`, the way PostgreSQL would have
 * for the role that ran it: a qualified name is taken as it is; an unqualified one is looked up in
 * `pg_catalog` and then in the role's `search_path` (`$user` standing for the role), and the first
 * schema holding a relation of that name wins. A name found nowhere (a table dropped since, or
 * created by the statement itself) goes to the first schema of the path that exists, where
 * `CREATE TABLE` would have put it, else `public`. System schemas (`pg_catalog`,
 * `information_schema`, `pg_toast`, temporary schemas) and Converge's own schema (`converge`:
 * outbox, inbox, dead letters — each service's library tables, not its domain) are not
 * application data and resolve to `undefined`.
 */
import type { DatabaseCatalog } from './database-catalog.js';
import type { TableReference } from './table-access.js';

/** `schema.table` for a reference made by `role`, or `undefined` for a system relation. */
export type TableResolver = (
  role: string,
  reference: Pick<TableReference, 'schema' | 'name'>,
) => string | undefined;

const SYSTEM_SCHEMA = /^(pg_catalog|information_schema|pg_toast|pg_temp.*|pg_toast_temp.*|converge)$/;

/**
 * A resolver over `catalog`; without one, unqualified names resolve through `"$user", public`
 * with no knowledge of what exists (so to `public`, unless the name is a `pg_` catalog name).
 *
 * @example createTableResolver(catalog)('billing_payment', { schema: undefined, name: 'payment' }) // 'billing_payment.payment'
 */
export function createTableResolver(catalog?: DatabaseCatalog): TableResolver {
  return (role, { schema, name }) => {
    const qualified = schema ?? schemaFor(catalog, role, name);
    return SYSTEM_SCHEMA.test(qualified) ? undefined : `${qualified}.${name}`;
  };
}

function schemaFor(catalog: DatabaseCatalog | undefined, role: string, name: string): string {
  if (catalog === undefined) return name.startsWith('pg_') ? 'pg_catalog' : 'public';
  const path = (catalog.searchPaths.get(role) ?? catalog.defaultSearchPath).map((entry) =>
    entry === '$user' ? role : entry,
  );
  for (const candidate of ['pg_catalog', ...path]) {
    if (catalog.relations.has(`${candidate}.${name}`)) return candidate;
  }
  return (
    path.find((candidate) => catalog.schemas.has(candidate) && !SYSTEM_SCHEMA.test(candidate)) ?? 'public'
  );
}
