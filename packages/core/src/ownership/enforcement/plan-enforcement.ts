import type { Manifest } from '../manifest.js';
import { type EnforcementCatalog, PUBLIC_GRANTEE } from './enforcement-catalog.js';
import type { EnforcementDifference } from './enforcement-difference.js';
import { type EnforcementScope, type EnforcementTarget, enforcementTarget } from './enforcement-target.js';
import { compareWithTarget } from './verify-enforcement.js';

/** Options of `planEnforcement`. */
export interface PlanEnforcementOptions extends EnforcementScope {
  /**
   * The database's state (`readEnforcementCatalog`): the plan is then only what is missing or
   * extra, and empty when the database already enforces the manifest. Without it, the plan is the
   * whole script for a database assumed to have none of it (its `CREATE ROLE`s fail where the
   * roles exist: use `apply`, which plans against the live catalog).
   */
  readonly catalog?: EnforcementCatalog;
}

/** One statement of a plan, and why it is there. */
export interface PlannedStatement {
  readonly sql: string;
  /** The difference it removes, in one sentence. */
  readonly reason: string;
}

/** The statements that make a database enforce a manifest, in order. */
export interface EnforcementPlan {
  readonly statements: readonly PlannedStatement[];
  /** Every difference found; those with no statement (a missing table) `apply` cannot remove. */
  readonly differences: readonly EnforcementDifference[];
}

/**
 * The ordered SQL statements that enforce `manifest` on PostgreSQL. Pure: no I/O. Each identifier
 * is validated and quoted (`quoteIdentifier`); no statement carries a value (roles get no password).
 * Against a catalog the plan is a diff, so applying it twice changes nothing the second time.
 *
 * @throws ConvergeError as `enforcementTarget` (`IDENTIFIER_INVALID`, `OWNERSHIP_ENFORCEMENT_INVALID`,
 *   `OWNERSHIP_SERVICE_NOT_FOUND`).
 * @example for (const { sql } of planEnforcement(manifest, { catalog }).statements) await client.query(sql);
 */
export function planEnforcement(manifest: Manifest, options: PlanEnforcementOptions = {}): EnforcementPlan {
  const target = enforcementTarget(manifest, options);
  const differences = compareWithTarget(target, options.catalog ?? assumedCatalog(target));
  const statements: PlannedStatement[] = [];
  const seen = new Set<string>();
  for (const difference of differences) {
    for (const sql of difference.fix) {
      if (seen.has(sql)) continue;
      seen.add(sql);
      statements.push({ sql, reason: difference.message });
    }
  }
  return Object.freeze({ statements, differences });
}

/**
 * The catalog of a database that holds none of the manifest yet: no role, schema or table, and
 * PUBLIC allowed to create in `public` (as before PostgreSQL 15). A plan against it is the whole
 * script for a fresh database — roles, schemas, schema grants, default privileges, search_paths —
 * and runs there as it is. The tables come later, from each service's migrations run as its owner
 * role, and default privileges grant them to its runtime role; a table other services read needs
 * `apply` once it exists (its readers' `SELECT` is per table).
 *
 * @example planEnforcement(manifest, { catalog: FRESH_DATABASE_CATALOG }).statements
 */
export const FRESH_DATABASE_CATALOG: EnforcementCatalog = Object.freeze({
  live: false,
  database: null,
  databaseCreate: Object.freeze([]),
  publicSchemaCreate: Object.freeze([PUBLIC_GRANTEE]),
  roles: Object.freeze([]),
  schemas: Object.freeze([]),
  relations: Object.freeze([]),
  defaultPrivileges: Object.freeze([]),
});

/**
 * The worst case, for a plan made without a database: no role exists; every schema and declared
 * table exists with an unknown owner and everything granted to PUBLIC; PUBLIC may create in
 * `public`. Its plan creates, re-owns, revokes and grants everything.
 */
function assumedCatalog(target: EnforcementTarget): EnforcementCatalog {
  const everything = [{ grantee: PUBLIC_GRANTEE, privilege: 'ALL' }];
  return {
    live: false,
    database: null,
    databaseCreate: [],
    publicSchemaCreate: [PUBLIC_GRANTEE],
    roles: [],
    schemas: target.schemas.map((schema) => ({ name: schema.name, owner: null, grants: everything })),
    relations: target.tables.map((table) => ({
      schema: table.schema,
      name: table.name,
      kind: 'table',
      owner: null,
      grants: everything,
      columnGrants: [],
      linkedTable: null,
    })),
    defaultPrivileges: [],
  };
}
