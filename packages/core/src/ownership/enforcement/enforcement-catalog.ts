/**
 * What a PostgreSQL database holds that matters for enforcement, as plain data: the roles, the
 * schemas and relations of the manifest with their owners and grants (`aclexplode` of their ACLs,
 * the built-in defaults when an ACL is null), default privileges, and who may create schemas or
 * create in `public`. The PostgreSQL adapter (`readEnforcementCatalog`) fills it in; planning and
 * verification only read it, so they stay pure and testable without a server.
 *
 * Every list leaves out an object's owner's own privileges (the owner has them all, implicitly).
 */

/** The grantee `PUBLIC`: every role. (No role can be named `public`.) */
export const PUBLIC_GRANTEE = 'PUBLIC';

/**
 * A privilege name as `aclexplode` gives it (`SELECT`, `INSERT`, `USAGE`, `CREATE`, …), or `ALL`
 * when a plan made without a database assumes the worst.
 */
export type Privilege = string;

/** One privilege held by one grantee. */
export interface CatalogGrant {
  /** A role name, or `PUBLIC_GRANTEE`. */
  readonly grantee: string;
  readonly privilege: Privilege;
}

/** A column privilege (`GRANT INSERT (price) ON …`). */
export interface CatalogColumnGrant extends CatalogGrant {
  readonly column: string;
}

/** A role and the attributes that decide what it can do. */
export interface CatalogRole {
  readonly name: string;
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createDatabase: boolean;
  readonly createRole: boolean;
  readonly replication: boolean;
  readonly bypassRls: boolean;
  /** The schemas of its `ALTER ROLE … SET search_path` (all databases), or null when not set. */
  readonly searchPath: readonly string[] | null;
  /** The roles it is a member of (it can `SET ROLE` to them). */
  readonly memberOf: readonly string[];
}

/** A schema, its owner (null: not known, in a plan made without a database) and its grants. */
export interface CatalogSchema {
  readonly name: string;
  readonly owner: string | null;
  readonly grants: readonly CatalogGrant[];
}

/** A table, view or sequence in one of the manifest's schemas. */
export interface CatalogRelation {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'sequence';
  readonly owner: string | null;
  readonly grants: readonly CatalogGrant[];
  readonly columnGrants: readonly CatalogColumnGrant[];
  /** For a sequence that belongs to a table column (serial, identity): that table, which carries its owner. */
  readonly linkedTable: string | null;
}

/** `ALTER DEFAULT PRIVILEGES FOR ROLE role [IN SCHEMA schema] …` as it stands. */
export interface CatalogDefaultPrivileges {
  readonly role: string;
  /** Null for defaults that hold in every schema. */
  readonly schema: string | null;
  readonly objects: 'tables' | 'sequences';
  readonly grants: readonly CatalogGrant[];
}

/** The live state enforcement compares with the manifest. */
export interface EnforcementCatalog {
  /** True when read from a database; false for the worst case assumed by a plan made without one. */
  readonly live: boolean;
  /** The current database's name (null when not known). */
  readonly database: string | null;
  /** Grantees (never its owner) holding `CREATE` on the database: they can create schemas. */
  readonly databaseCreate: readonly string[];
  /** Grantees (never its owner) holding `CREATE` on schema `public`; null when there is no `public`. */
  readonly publicSchemaCreate: readonly string[] | null;
  /** The manifest's roles that exist. */
  readonly roles: readonly CatalogRole[];
  /** The manifest's schemas that exist. */
  readonly schemas: readonly CatalogSchema[];
  /** Every table, view and sequence in those schemas. */
  readonly relations: readonly CatalogRelation[];
  /** Default privileges in those schemas, and the global ones of the manifest's roles. */
  readonly defaultPrivileges: readonly CatalogDefaultPrivileges[];
}
