/**
 * One way a database differs from what the manifest asks for, with the statements that remove
 * it. `verifyEnforcement` lists them; `planEnforcement` is their statements, in order — so what
 * `apply` runs is exactly what `verify` reported, and after it `verify` finds nothing.
 */

/** The kinds of difference, as `converge ownership verify` prints them. */
export const DifferenceKind = {
  /** A role the manifest needs does not exist. */
  ROLE_MISSING: 'role-missing',
  /** A role can log in when it must not (or the reverse), or is superuser, can create roles, … */
  ROLE_ATTRIBUTES: 'role-attributes',
  /** A runtime role is a member of another role, so it can `SET ROLE` to it. */
  ROLE_MEMBERSHIP: 'role-membership',
  /** A role's pinned `search_path` is missing or different. */
  SEARCH_PATH: 'search-path',
  /** A schema of the manifest does not exist. */
  SCHEMA_MISSING: 'schema-missing',
  /** A table the manifest names does not exist (its service's migrations create it). */
  TABLE_MISSING: 'table-missing',
  /** A schema, table or sequence is owned by another role. */
  WRONG_OWNER: 'wrong-owner',
  /** A role lacks a privilege the manifest gives it. */
  MISSING_GRANT: 'missing-grant',
  /** A role (or PUBLIC) holds a privilege the manifest does not give it. */
  EXTRA_GRANT: 'extra-grant',
  /** Default privileges for future tables or sequences lack a grant. */
  MISSING_DEFAULT_PRIVILEGE: 'missing-default-privilege',
  /** Default privileges for future tables or sequences give a grant the manifest does not. */
  EXTRA_DEFAULT_PRIVILEGE: 'extra-default-privilege',
} as const;
export type DifferenceKind = (typeof DifferenceKind)[keyof typeof DifferenceKind];

/** A difference between the database and the manifest. */
export interface EnforcementDifference {
  readonly kind: DifferenceKind;
  /** What it is about: `role catalog_runtime`, `table catalog.product`, `database shop`. */
  readonly object: string;
  /** The role (or `PUBLIC`) a grant difference is about. */
  readonly role?: string;
  /** The privileges a grant difference is about. */
  readonly privileges?: readonly string[];
  /** The difference in one sentence, with what is expected. */
  readonly message: string;
  /** The statements that remove it, in order; empty when `apply` cannot (a missing table). */
  readonly fix: readonly string[];
}
