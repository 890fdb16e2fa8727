import type { CatalogRole, EnforcementCatalog } from './enforcement-catalog.js';
import { DifferenceKind, type EnforcementDifference } from './enforcement-difference.js';
import {
  alterRoleSql,
  createRoleSql,
  quoteCatalogName,
  revokeMembershipSql,
  searchPathSql,
} from './enforcement-sql.js';
import type { EnforcementTarget, TargetRole } from './enforcement-target.js';

/** The attributes every enforcement role must have, as `[field, word when true]`. */
const FORBIDDEN: ReadonlyArray<readonly [keyof CatalogRole, string]> = [
  ['superuser', 'SUPERUSER'],
  ['createDatabase', 'CREATEDB'],
  ['createRole', 'CREATEROLE'],
  ['replication', 'REPLICATION'],
  ['bypassRls', 'BYPASSRLS'],
];

/**
 * Roles that are missing, have the wrong attributes or `search_path`, and runtime roles that are
 * members of another role (which would let them `SET ROLE` to its privileges).
 */
export function roleDifferences(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const existing = new Map(catalog.roles.map((role) => [role.name, role]));
  const runtime = new Set(target.runtimeRoles);
  const differences: EnforcementDifference[] = [];
  const paths: EnforcementDifference[] = [];
  for (const role of target.roles) {
    const found = existing.get(role.name);
    const object = `role ${role.name}`;
    if (found === undefined) {
      differences.push({
        kind: DifferenceKind.ROLE_MISSING,
        object,
        message: `Role ${role.name} (${role.purpose}) does not exist.`,
        fix: [createRoleSql(role)],
      });
      paths.push(searchPathDifference(role, null));
      continue;
    }
    const wrong = wrongAttributes(role, found);
    if (wrong.length > 0) {
      differences.push({
        kind: DifferenceKind.ROLE_ATTRIBUTES,
        object,
        message: `Role ${role.name} (${role.purpose}) ${wrong.join(', ')}; it must be ${role.login ? 'LOGIN' : 'NOLOGIN'} without SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS.`,
        fix: [alterRoleSql(role)],
      });
    }
    if (runtime.has(role.name)) {
      for (const group of found.memberOf) {
        differences.push({
          kind: DifferenceKind.ROLE_MEMBERSHIP,
          object,
          role: group,
          message: `Runtime role ${role.name} is a member of ${quoteCatalogName(group)}, so it can SET ROLE to it and use its privileges; a runtime role must be a member of no role.`,
          fix: [revokeMembershipSql(group, role.name)],
        });
      }
    }
    if (!samePath(found.searchPath, role.searchPath))
      paths.push(searchPathDifference(role, found.searchPath));
  }
  return [...differences, ...paths];
}

/** The search_path differences, set last (after the schemas exist), in the plan's order. */
function searchPathDifference(role: TargetRole, current: readonly string[] | null): EnforcementDifference {
  const expected = role.searchPath.join(', ');
  return {
    kind: DifferenceKind.SEARCH_PATH,
    object: `role ${role.name}`,
    message:
      current === null
        ? `Role ${role.name} has no pinned search_path; expected ${expected}.`
        : `Role ${role.name} has search_path ${current.join(', ') || "''"}; expected ${expected}.`,
    fix: [searchPathSql(role)],
  };
}

function wrongAttributes(role: TargetRole, found: CatalogRole): string[] {
  const wrong: string[] = [];
  if (found.login !== role.login) wrong.push(found.login ? 'can log in' : 'cannot log in');
  for (const [field, word] of FORBIDDEN) if (found[field] === true) wrong.push(`has ${word}`);
  return wrong;
}

function samePath(current: readonly string[] | null, expected: readonly string[]): boolean {
  return (
    current !== null && current.length === expected.length && current.every((name, i) => name === expected[i])
  );
}
