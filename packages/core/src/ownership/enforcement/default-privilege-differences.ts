import type { CatalogDefaultPrivileges, EnforcementCatalog, Privilege } from './enforcement-catalog.js';
import { DifferenceKind, type EnforcementDifference } from './enforcement-difference.js';
import { defaultPrivilegesSql } from './enforcement-sql.js';
import type { EnforcementTarget } from './enforcement-target.js';
import { grantChanges } from './grant-changes.js';
import { SEQUENCE_PRIVILEGES, TABLE_WRITE_PRIVILEGES } from './object-differences.js';

type Entry = Pick<CatalogDefaultPrivileges, 'role' | 'schema' | 'objects'>;

/**
 * Default privileges, so that a table (or sequence) a service's migration creates later is usable
 * by its runtime role at once and by no one else: for each schema, `FOR ROLE <owner> IN SCHEMA
 * <schema>` gives the writers DML (`USAGE, SELECT` on sequences). Any other default privilege in
 * those schemas, or global for the manifest's roles, is extra.
 */
export function defaultPrivilegeDifferences(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const key = (entry: Entry) => JSON.stringify([entry.role, entry.schema, entry.objects]);
  const desired = new Map<string, { entry: Entry; grants: Map<string, readonly Privilege[]> }>();
  for (const schema of target.schemas) {
    for (const objects of ['tables', 'sequences'] as const) {
      const entry = { role: schema.owner, schema: schema.name, objects };
      const privileges = objects === 'tables' ? TABLE_WRITE_PRIVILEGES : SEQUENCE_PRIVILEGES;
      desired.set(key(entry), { entry, grants: new Map(schema.writers.map((role) => [role, privileges])) });
    }
  }
  const schemas = new Set(target.schemas.map((schema) => schema.name));
  const roles = new Set(target.roles.map((role) => role.name));
  const current = new Map<string, CatalogDefaultPrivileges>();
  for (const found of catalog.defaultPrivileges) {
    const relevant = found.schema === null ? roles.has(found.role) : schemas.has(found.schema);
    if (relevant) current.set(key(found), found);
  }
  const differences: EnforcementDifference[] = [];
  for (const k of new Set([...desired.keys(), ...current.keys()])) {
    const entry: Entry = desired.get(k)?.entry ?? current.get(k)!;
    const { missing, extra } = grantChanges(
      current.get(k)?.grants ?? [],
      desired.get(k)?.grants ?? new Map(),
      new Set([entry.role]),
    );
    for (const [grantee, privileges] of extra) {
      differences.push(change(DifferenceKind.EXTRA_DEFAULT_PRIVILEGE, entry, grantee, privileges));
    }
    for (const [role, privileges] of missing) {
      differences.push(change(DifferenceKind.MISSING_DEFAULT_PRIVILEGE, entry, role, privileges));
    }
  }
  return differences;
}

function change(
  kind: typeof DifferenceKind.EXTRA_DEFAULT_PRIVILEGE | typeof DifferenceKind.MISSING_DEFAULT_PRIVILEGE,
  entry: Entry,
  role: string,
  privileges: readonly Privilege[],
): EnforcementDifference {
  const where = `${entry.objects} ${entry.role} creates${entry.schema === null ? ' anywhere' : ` in schema ${entry.schema}`}`;
  const extra = kind === DifferenceKind.EXTRA_DEFAULT_PRIVILEGE;
  return {
    kind,
    object: `default privileges for ${where}`,
    role,
    privileges,
    message: extra
      ? `Future ${where} would give ${role} ${privileges.join(', ')}, which the manifest does not.`
      : `Future ${where} would not give ${role} ${privileges.join(', ')}.`,
    fix: [defaultPrivilegesSql(extra ? 'REVOKE' : 'GRANT', entry, privileges, role)],
  };
}
