import type { Manifest } from '../manifest.js';
import { defaultPrivilegeDifferences } from './default-privilege-differences.js';
import type { EnforcementCatalog } from './enforcement-catalog.js';
import { DifferenceKind, type EnforcementDifference } from './enforcement-difference.js';
import { type EnforcementScope, type EnforcementTarget, enforcementTarget } from './enforcement-target.js';
import { databaseDifferences, relationDifferences, schemaDifferences } from './object-differences.js';
import { roleDifferences } from './role-differences.js';

/**
 * Every difference between `catalog` (what a database holds) and what `manifest` asks for, in the
 * order their fixes must run: roles, who may create schemas, schemas, tables and sequences,
 * default privileges, and last the pinned `search_path`s. Empty when the database enforces the
 * manifest. Pure: the catalog comes from `readEnforcementCatalog`.
 *
 * @throws ConvergeError as `enforcementTarget`.
 * @example if (verifyEnforcement(manifest, catalog).length > 0) console.log('not enforced');
 */
export function verifyEnforcement(
  manifest: Manifest,
  catalog: EnforcementCatalog,
  scope: EnforcementScope = {},
): EnforcementDifference[] {
  return compareWithTarget(enforcementTarget(manifest, scope), catalog);
}

/** `verifyEnforcement` for a target already computed. */
export function compareWithTarget(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const roles = roleDifferences(target, catalog);
  return [
    ...roles.filter((difference) => difference.kind !== DifferenceKind.SEARCH_PATH),
    ...databaseDifferences(target, catalog),
    ...schemaDifferences(target, catalog),
    ...relationDifferences(target, catalog),
    ...defaultPrivilegeDifferences(target, catalog),
    ...roles.filter((difference) => difference.kind === DifferenceKind.SEARCH_PATH),
  ];
}
