/**
 * The PostgreSQL adapter of enforcement: reads `pg_roles`, `pg_db_role_setting`,
 * `pg_auth_members`, `pg_namespace`, `pg_class`, `pg_attribute`, `pg_depend`, `pg_default_acl` and
 * `pg_database` into an `EnforcementCatalog`. ACLs are read with `aclexplode`, falling back to
 * `acldefault` when an object's ACL is null (its built-in defaults). Every name the manifest
 * contributes is a bind parameter; no query text is built from input.
 */
import type {
  CatalogDefaultPrivileges,
  CatalogGrant,
  CatalogRelation,
  CatalogRole,
  CatalogSchema,
  EnforcementCatalog,
} from './enforcement-catalog.js';
import type { EnforcementTarget } from './enforcement-target.js';

/** What enforcement needs of a connection: one `query` with bind parameters (a `pg.Client`). */
export interface EnforcementClient {
  query(text: string, values?: unknown[]): Promise<{ readonly rows: readonly Record<string, unknown>[] }>;
}

/** `grantee` as a name, `PUBLIC` for the pseudo-role 0. */
const GRANTEE = `CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END`;

/** A JSON array of `{grantee, privilege}` for one ACL (owner's entries left out). */
const grantsOf = (acl: string, owner: string) => `COALESCE((
    SELECT json_agg(json_build_object('grantee', ${GRANTEE}, 'privilege', a.privilege_type))
    FROM aclexplode(${acl}) a WHERE a.grantee <> ${owner}), '[]'::json)`;

const ROLES = `
SELECT r.rolname::text AS name, r.rolcanlogin AS login, r.rolsuper AS superuser,
       r.rolcreatedb AS create_database, r.rolcreaterole AS create_role,
       r.rolreplication AS replication, r.rolbypassrls AS bypass_rls,
       (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS setconfig,
       ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_roles r WHERE r.rolname = ANY($1::text[]) ORDER BY 1`;

const SCHEMAS = `
SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner,
       ${grantsOf("COALESCE(n.nspacl, acldefault('n', n.nspowner))", 'n.nspowner')} AS grants
FROM pg_namespace n WHERE n.nspname = ANY($1::text[]) ORDER BY 1`;

const RELATIONS = `
SELECT n.nspname::text AS schema, c.relname::text AS name,
       CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
       pg_get_userbyid(c.relowner)::text AS owner,
       ${grantsOf(`COALESCE(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))`, 'c.relowner')} AS grants,
       COALESCE((SELECT json_agg(json_build_object('column', att.attname::text, 'grantee', ${GRANTEE}, 'privilege', a.privilege_type))
                 FROM pg_attribute att, aclexplode(att.attacl) a
                 WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL AND NOT att.attisdropped), '[]'::json) AS column_grants,
       (SELECT t.relname::text FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
        WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS linked_table
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY 1, 2`;

const DEFAULT_PRIVILEGES = `
SELECT pg_get_userbyid(d.defaclrole)::text AS role, n.nspname::text AS schema,
       CASE WHEN d.defaclobjtype = 'r' THEN 'tables' ELSE 'sequences' END AS objects,
       ${grantsOf('d.defaclacl', 'd.defaclrole')} AS grants
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
WHERE d.defaclobjtype IN ('r', 'S')
  AND (n.nspname = ANY($1::text[]) OR (d.defaclnamespace = 0 AND pg_get_userbyid(d.defaclrole) = ANY($2::text[])))
ORDER BY 1, 2, 3`;

/** Grantees (not the owner) with CREATE on the current database, and on schema `public`. */
const CREATORS = `
SELECT current_database()::text AS database,
       (SELECT COALESCE(json_agg(${GRANTEE}), '[]'::json) FROM pg_database d,
               aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
        WHERE d.datname = current_database() AND a.privilege_type = 'CREATE' AND a.grantee <> d.datdba) AS database_create,
       (SELECT COALESCE(json_agg(${GRANTEE}) FILTER (WHERE a.grantee IS NOT NULL), '[]'::json) FROM pg_namespace n
               LEFT JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
                 ON a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner
        WHERE n.nspname = 'public'
        HAVING count(*) > 0) AS public_create`;

/**
 * Reads what the database holds for `target`'s roles and schemas.
 *
 * @example const catalog = await readEnforcementCatalog(client, enforcementTarget(manifest));
 */
export async function readEnforcementCatalog(
  client: EnforcementClient,
  target: EnforcementTarget,
): Promise<EnforcementCatalog> {
  const roleNames = target.roles.map((role) => role.name);
  const schemaNames = target.schemas.map((schema) => schema.name);
  const roles = await client.query(ROLES, [roleNames]);
  const schemas = await client.query(SCHEMAS, [schemaNames]);
  const relations = await client.query(RELATIONS, [schemaNames]);
  const defaults = await client.query(DEFAULT_PRIVILEGES, [schemaNames, roleNames]);
  const creators = (await client.query(CREATORS)).rows[0] ?? {};
  return {
    live: true,
    database: typeof creators.database === 'string' ? creators.database : null,
    databaseCreate: (creators.database_create as string[] | null) ?? [],
    publicSchemaCreate: (creators.public_create as string[] | null) ?? null,
    roles: roles.rows.map(roleOf),
    schemas: schemas.rows.map(
      (row): CatalogSchema => ({
        name: String(row.name),
        owner: String(row.owner),
        grants: row.grants as CatalogGrant[],
      }),
    ),
    relations: relations.rows.map(
      (row): CatalogRelation => ({
        schema: String(row.schema),
        name: String(row.name),
        kind: row.kind === 'sequence' ? 'sequence' : 'table',
        owner: String(row.owner),
        grants: row.grants as CatalogGrant[],
        columnGrants: row.column_grants as CatalogRelation['columnGrants'],
        linkedTable: typeof row.linked_table === 'string' ? row.linked_table : null,
      }),
    ),
    defaultPrivileges: defaults.rows.map(
      (row): CatalogDefaultPrivileges => ({
        role: String(row.role),
        schema: typeof row.schema === 'string' ? row.schema : null,
        objects: row.objects === 'tables' ? 'tables' : 'sequences',
        grants: row.grants as CatalogGrant[],
      }),
    ),
  };
}

function roleOf(row: Record<string, unknown>): CatalogRole {
  return {
    name: String(row.name),
    login: row.login === true,
    superuser: row.superuser === true,
    createDatabase: row.create_database === true,
    createRole: row.create_role === true,
    replication: row.replication === true,
    bypassRls: row.bypass_rls === true,
    searchPath: searchPathOf(row.setconfig as string[] | null),
    memberOf: (row.member_of as string[] | null) ?? [],
  };
}

/**
 * The schemas of a `search_path=a, "B"` setting as PostgreSQL stores it (names needing quotes are
 * double-quoted, `"` doubled), or null when the role has none.
 */
export function searchPathOf(setconfig: readonly string[] | null): string[] | null {
  const setting = setconfig?.find((entry) => entry.startsWith('search_path='));
  if (setting === undefined) return null;
  const value = setting.slice('search_path='.length);
  const names: string[] = [];
  for (const match of value.matchAll(/\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/g)) {
    if (match[1] !== undefined) names.push(match[1].replaceAll('""', '"'));
    else if (match[2] !== undefined) names.push(match[2]);
  }
  return names;
}
