/**
 * The statements enforcement emits, one builder per kind. Names from the manifest go through
 * `quoteIdentifier` (which validates them first); names that come from the server's catalog (a
 * grantee someone granted by hand, a column, the database) are quoted by `quoteCatalogName`,
 * since PostgreSQL already holds them and they need not follow the manifest's rules. No value is
 * ever inlined: no statement carries a password or a literal.
 */
import { quoteIdentifier } from '../identifiers.js';
import { type Privilege, PUBLIC_GRANTEE } from './enforcement-catalog.js';
import type { TargetRole } from './enforcement-target.js';

/** An object a privilege is granted on. */
export type SqlObject =
  | { readonly kind: 'schema'; readonly name: string }
  | { readonly kind: 'table' | 'sequence'; readonly schema: string; readonly name: string }
  | { readonly kind: 'database'; readonly name: string };

/** A name from the server's catalog, quoted for any content: `"` doubled, wrapped in `"`. */
export function quoteCatalogName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A manifest name if it is one, else a catalog name (grantees, owners found on the server). */
function anyName(name: string): string {
  try {
    return quoteIdentifier(name);
  } catch {
    return quoteCatalogName(name);
  }
}

function grantee(name: string): string {
  return name === PUBLIC_GRANTEE ? 'PUBLIC' : anyName(name);
}

const ORDER = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'MAINTAIN',
  'USAGE',
  'CREATE',
  'CONNECT',
  'TEMPORARY',
];

/** Privileges in PostgreSQL's documentation order, `ALL` alone when present. */
export function sortPrivileges(privileges: Iterable<Privilege>): Privilege[] {
  const unique = [...new Set(privileges)];
  if (unique.includes('ALL')) return ['ALL'];
  return unique.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function rank(privilege: Privilege): number {
  const index = ORDER.indexOf(privilege);
  return index === -1 ? ORDER.length : index;
}

/** `TABLE "s"."t"`, `SCHEMA "s"`, `SEQUENCE "s"."q"`, `DATABASE "d"`. */
export function objectSql(object: SqlObject): string {
  switch (object.kind) {
    case 'schema':
      return `SCHEMA ${quoteIdentifier(object.name)}`;
    case 'database':
      return `DATABASE ${quoteCatalogName(object.name)}`;
    default:
      return `${object.kind.toUpperCase()} ${quoteIdentifier(object.schema)}.${anyName(object.name)}`;
  }
}

/** The object as people write it: `table catalog.product`. */
export function describeObject(object: SqlObject): string {
  return object.kind === 'schema' || object.kind === 'database'
    ? `${object.kind} ${object.name}`
    : `${object.kind} ${object.schema}.${object.name}`;
}

const ATTRIBUTES = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';

/** `CREATE ROLE` with every attribute spelled out, and no password. */
export function createRoleSql(role: TargetRole): string {
  return `CREATE ROLE ${quoteIdentifier(role.name)} ${role.login ? 'LOGIN' : 'NOLOGIN'} ${ATTRIBUTES}`;
}

/** `ALTER ROLE` back to the attributes `createRoleSql` gives. */
export function alterRoleSql(role: TargetRole): string {
  return `ALTER ROLE ${quoteIdentifier(role.name)} WITH ${role.login ? 'LOGIN' : 'NOLOGIN'} ${ATTRIBUTES}`;
}

/** Pins the role's `search_path` for every database. */
export function searchPathSql(role: TargetRole): string {
  return `ALTER ROLE ${quoteIdentifier(role.name)} SET search_path = ${role.searchPath.map(quoteIdentifier).join(', ')}`;
}

/** Ends the membership of `member` in `group` (a catalog name). */
export function revokeMembershipSql(group: string, member: string): string {
  return `REVOKE ${quoteCatalogName(group)} FROM ${quoteIdentifier(member)}`;
}

export function createSchemaSql(schema: string, owner: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)} AUTHORIZATION ${quoteIdentifier(owner)}`;
}

/** `ALTER SCHEMA|TABLE|SEQUENCE … OWNER TO …`. */
export function ownerSql(object: SqlObject, owner: string): string {
  return `ALTER ${objectSql(object)} OWNER TO ${quoteIdentifier(owner)}`;
}

export function grantSql(privileges: Iterable<Privilege>, object: SqlObject, role: string): string {
  return `GRANT ${sortPrivileges(privileges).join(', ')} ON ${objectSql(object)} TO ${grantee(role)}`;
}

export function revokeSql(privileges: Iterable<Privilege>, object: SqlObject, role: string): string {
  return `REVOKE ${sortPrivileges(privileges).join(', ')} ON ${objectSql(object)} FROM ${grantee(role)}`;
}

/** `REVOKE INSERT ("a", "b") ON TABLE … FROM …` for column privileges. */
export function revokeColumnsSql(
  privilege: Privilege,
  columns: readonly string[],
  object: SqlObject,
  role: string,
): string {
  return `REVOKE ${privilege} (${columns.map(quoteCatalogName).join(', ')}) ON ${objectSql(object)} FROM ${grantee(role)}`;
}

/** `ALTER DEFAULT PRIVILEGES FOR ROLE … [IN SCHEMA …] GRANT|REVOKE … ON TABLES|SEQUENCES …`. */
export function defaultPrivilegesSql(
  change: 'GRANT' | 'REVOKE',
  entry: { readonly role: string; readonly schema: string | null; readonly objects: 'tables' | 'sequences' },
  privileges: Iterable<Privilege>,
  role: string,
): string {
  const scope = entry.schema === null ? '' : ` IN SCHEMA ${quoteIdentifier(entry.schema)}`;
  const direction = change === 'GRANT' ? 'TO' : 'FROM';
  return `ALTER DEFAULT PRIVILEGES FOR ROLE ${anyName(entry.role)}${scope} ${change} ${sortPrivileges(privileges).join(', ')} ON ${entry.objects.toUpperCase()} ${direction} ${grantee(role)}`;
}
