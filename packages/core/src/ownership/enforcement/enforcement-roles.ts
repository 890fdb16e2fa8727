/**
 * The names of the roles that enforce a manifest in PostgreSQL. Every service gets two:
 *
 * - `<service>_owner` (NOLOGIN) owns the service's schema and tables; its migrations run as it
 *   (a migration user is granted it and runs `SET ROLE`);
 * - `<service>_runtime` (LOGIN) is what the running service connects as: DML on what the service
 *   owns, `SELECT` where the manifest lets it read, nothing else.
 *
 * A data-domain schema shared by several services is owned by `<schema>_owner` (NOLOGIN).
 * Roles are cluster-wide: two databases on one server that both enforce a service `billing` share
 * its roles.
 */

/** Appended to a service's (or a data-domain schema's) name for the role that owns its objects. */
export const OWNER_ROLE_SUFFIX = '_owner';
/** Appended to a service's name for the role the running service logs in as. */
export const RUNTIME_ROLE_SUFFIX = '_runtime';

/** The two roles of one service. */
export interface ServiceRoles {
  /** NOLOGIN; owns the schema and the tables; migrations. */
  readonly owner: string;
  /** LOGIN; DML on what the service owns, `SELECT` on what it may read. */
  readonly runtime: string;
}

/**
 * The roles of `service` (names not yet validated: a service name longer than 55 bytes makes a
 * role name longer than PostgreSQL's 63, which `enforcementTarget` rejects).
 *
 * @example serviceRoles('billing') // { owner: 'billing_owner', runtime: 'billing_runtime' }
 */
export function serviceRoles(service: string): ServiceRoles {
  return { owner: `${service}${OWNER_ROLE_SUFFIX}`, runtime: `${service}${RUNTIME_ROLE_SUFFIX}` };
}
