import type { CatalogGrant, Privilege } from './enforcement-catalog.js';
import { sortPrivileges } from './enforcement-sql.js';

/** What to grant and what to revoke to turn `current` into `desired`, per grantee. */
export interface GrantChanges {
  readonly missing: ReadonlyMap<string, readonly Privilege[]>;
  readonly extra: ReadonlyMap<string, readonly Privilege[]>;
}

/**
 * Compares grants on one object. `ignore` holds the grantees whose held privileges do not count
 * (the object's owner, current and intended: an owner's privileges move with the ownership). A current `ALL` (assumed when no database was read) is
 * always extra; revoke before granting.
 *
 * @example grantChanges([{ grantee: 'PUBLIC', privilege: 'SELECT' }], new Map(), new Set()).extra // PUBLIC → [SELECT]
 */
export function grantChanges(
  current: readonly CatalogGrant[],
  desired: ReadonlyMap<string, readonly Privilege[]>,
  ignore: ReadonlySet<string>,
): GrantChanges {
  const held = new Map<string, Set<Privilege>>();
  for (const grant of current) {
    if (ignore.has(grant.grantee)) continue;
    const privileges = held.get(grant.grantee) ?? new Set<Privilege>();
    privileges.add(grant.privilege);
    held.set(grant.grantee, privileges);
  }
  const missing = new Map<string, Privilege[]>();
  for (const [role, privileges] of desired) {
    const has = held.get(role) ?? new Set<Privilege>();
    const lacking = privileges.filter((privilege) => !has.has(privilege));
    if (lacking.length > 0) missing.set(role, sortPrivileges(lacking));
  }
  const extra = new Map<string, Privilege[]>();
  for (const [grantee, privileges] of held) {
    const wanted = new Set(desired.get(grantee) ?? []);
    const unwanted = [...privileges].filter((privilege) => !wanted.has(privilege));
    if (unwanted.length > 0) extra.set(grantee, sortPrivileges(unwanted));
  }
  return { missing, extra };
}
