import {
  type CatalogGrant,
  type CatalogRelation,
  type EnforcementCatalog,
  type Privilege,
  PUBLIC_GRANTEE,
} from './enforcement-catalog.js';
import { DifferenceKind, type EnforcementDifference } from './enforcement-difference.js';
import {
  createSchemaSql,
  describeObject,
  grantSql,
  ownerSql,
  revokeColumnsSql,
  revokeSql,
  type SqlObject,
} from './enforcement-sql.js';
import type { EnforcementTarget, TargetSchema } from './enforcement-target.js';
import { grantChanges } from './grant-changes.js';

/** DML: what a runtime role may do on the tables of its own schema. */
export const TABLE_WRITE_PRIVILEGES: readonly Privilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
/** What a runtime role gets on a table of its schema it may only read. */
const READ_PRIVILEGES: readonly Privilege[] = ['SELECT'];
/** What a runtime role needs on the sequences of its schema (`nextval` for serial columns). */
export const SEQUENCE_PRIVILEGES: readonly Privilege[] = ['USAGE', 'SELECT'];

/**
 * Who may create schemas in the database, or objects in `public`: neither PUBLIC nor a runtime role.
 */
export function databaseDifferences(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const forbidden = new Set([PUBLIC_GRANTEE, ...target.runtimeRoles]);
  const differences: EnforcementDifference[] = [];
  const database = catalog.database;
  if (database !== null) {
    const object: SqlObject = { kind: 'database', name: database };
    for (const grantee of catalog.databaseCreate.filter((name) => forbidden.has(name))) {
      differences.push(extraGrant(object, grantee, ['CREATE'], 'it could create schemas of its own'));
    }
  }
  if (catalog.publicSchemaCreate !== null && !target.schemas.some((schema) => schema.name === 'public')) {
    const object: SqlObject = { kind: 'schema', name: 'public' };
    for (const grantee of catalog.publicSchemaCreate.filter((name) => forbidden.has(name))) {
      differences.push(extraGrant(object, grantee, ['CREATE'], 'it could create tables there'));
    }
  }
  return differences;
}

/** Each schema's existence, owner and grants (`USAGE` for its writers and readers, nothing else). */
export function schemaDifferences(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const existing = new Map(catalog.schemas.map((schema) => [schema.name, schema]));
  const differences: EnforcementDifference[] = [];
  for (const schema of target.schemas) {
    const object: SqlObject = { kind: 'schema', name: schema.name };
    const found = existing.get(schema.name);
    if (found === undefined) {
      differences.push({
        kind: DifferenceKind.SCHEMA_MISSING,
        object: describeObject(object),
        message: `Schema ${schema.name} does not exist; expected it owned by ${schema.owner}.`,
        fix: [createSchemaSql(schema.name, schema.owner)],
      });
    } else if (found.owner !== schema.owner) {
      differences.push(
        wrongOwner(
          object,
          found.owner,
          schema.owner,
          found.owner === null ? [createSchemaSql(schema.name, schema.owner)] : [],
        ),
      );
    }
    const desired = new Map(schema.usage.map((role) => [role, ['USAGE']]));
    differences.push(
      ...grantDifferences(object, found?.grants ?? [], desired, owners(found?.owner, schema.owner)),
    );
  }
  return differences;
}

/**
 * Every table, view and sequence in the manifest's schemas: owned by the schema's owner; DML for
 * the schema's writers (`SELECT` alone on its `readOnly` tables, `USAGE, SELECT` on sequences), `SELECT` for declared readers, nothing else
 * (no column privileges either). A declared table that does not exist is listed, with no fix.
 */
export function relationDifferences(
  target: EnforcementTarget,
  catalog: EnforcementCatalog,
): EnforcementDifference[] {
  const schemas = new Map(target.schemas.map((schema) => [schema.name, schema]));
  const declared = new Map(target.tables.map((table) => [`${table.schema}.${table.name}`, table]));
  const differences: EnforcementDifference[] = [];
  const found = new Set<string>();
  const relations = catalog.relations.filter((relation) => schemas.has(relation.schema));
  const misowned = new Set(
    relations
      .filter(
        (relation) => relation.kind === 'table' && relation.owner !== schemas.get(relation.schema)!.owner,
      )
      .map((relation) => relation.name),
  );
  for (const relation of relations) {
    const key = `${relation.schema}.${relation.name}`;
    found.add(key);
    const schema = schemas.get(relation.schema)!;
    differences.push(...relationOwnerDifference(relation, schema, misowned));
    const desired = new Map<string, readonly Privilege[]>();
    const writes =
      relation.kind === 'sequence'
        ? SEQUENCE_PRIVILEGES
        : schema.readOnly.includes(relation.name)
          ? READ_PRIVILEGES
          : TABLE_WRITE_PRIVILEGES;
    for (const writer of schema.writers) desired.set(writer, writes);
    if (relation.kind === 'table') {
      for (const reader of declared.get(key)?.readers ?? [])
        desired.set(reader, desired.get(reader) ?? ['SELECT']);
    }
    const object: SqlObject = { kind: relation.kind, schema: relation.schema, name: relation.name };
    differences.push(
      ...grantDifferences(object, relation.grants, desired, owners(relation.owner, schema.owner)),
    );
    differences.push(...columnGrantDifferences(object, relation));
  }
  for (const [key, table] of declared) {
    if (found.has(key) || !catalog.live) continue;
    differences.push({
      kind: DifferenceKind.TABLE_MISSING,
      object: `table ${key}`,
      message: `Table ${key} is in the manifest but not in the database; create it with its service's migrations (running as ${table.owner}), then apply again to grant its readers.`,
      fix: [],
    });
  }
  return differences;
}

function relationOwnerDifference(
  relation: CatalogRelation,
  schema: TargetSchema,
  misownedTables: ReadonlySet<string>,
): EnforcementDifference[] {
  if (relation.owner === schema.owner) return [];
  const object: SqlObject = { kind: relation.kind, schema: relation.schema, name: relation.name };
  if (relation.linkedTable === null) return [wrongOwner(object, relation.owner, schema.owner, [])];
  // A serial or identity sequence follows its table's owner: ALTER TABLE moves both, and
  // ALTER SEQUENCE … OWNER is refused for it.
  if (misownedTables.has(relation.linkedTable)) return [];
  return [
    {
      ...wrongOwner(object, relation.owner, schema.owner, []),
      fix: [],
      message: `Sequence ${relation.schema}.${relation.name} of table ${relation.linkedTable} is owned by ${relation.owner}; expected ${schema.owner}. PostgreSQL changes it only with its table: ALTER TABLE ${relation.linkedTable} OWNER TO another role and back.`,
    },
  ];
}

function wrongOwner(
  object: SqlObject,
  current: string | null,
  expected: string,
  before: readonly string[],
): EnforcementDifference {
  return {
    kind: DifferenceKind.WRONG_OWNER,
    object: describeObject(object),
    message:
      current === null
        ? `The owner of ${describeObject(object)} must be ${expected}.`
        : `${capitalize(describeObject(object))} is owned by ${current}; expected ${expected}.`,
    fix: [...before, ownerSql(object, expected)],
  };
}

/** Revokes first, then grants, per grantee. */
function grantDifferences(
  object: SqlObject,
  current: readonly CatalogGrant[],
  desired: ReadonlyMap<string, readonly Privilege[]>,
  ignore: ReadonlySet<string>,
): EnforcementDifference[] {
  const { missing, extra } = grantChanges(current, desired, ignore);
  const differences = [...extra].map(([grantee, privileges]) => extraGrant(object, grantee, privileges));
  for (const [role, privileges] of missing) {
    differences.push({
      kind: DifferenceKind.MISSING_GRANT,
      object: describeObject(object),
      role,
      privileges,
      message: `${role} lacks ${privileges.join(', ')} on ${describeObject(object)}.`,
      fix: [grantSql(privileges, object, role)],
    });
  }
  return differences;
}

function columnGrantDifferences(object: SqlObject, relation: CatalogRelation): EnforcementDifference[] {
  const grouped = new Map<string, { grantee: string; privilege: Privilege; columns: string[] }>();
  for (const grant of relation.columnGrants) {
    const key = JSON.stringify([grant.grantee, grant.privilege]);
    const group = grouped.get(key) ?? { grantee: grant.grantee, privilege: grant.privilege, columns: [] };
    group.columns.push(grant.column);
    grouped.set(key, group);
  }
  return [...grouped.values()].map(({ grantee, privilege, columns }) => ({
    kind: DifferenceKind.EXTRA_GRANT,
    object: describeObject(object),
    role: grantee,
    privileges: [privilege],
    message: `${grantee} has ${privilege} on column(s) ${columns.join(', ')} of ${describeObject(object)}, which the manifest does not give.`,
    fix: [revokeColumnsSql(privilege, columns, object, grantee)],
  }));
}

function extraGrant(
  object: SqlObject,
  grantee: string,
  privileges: readonly Privilege[],
  consequence?: string,
): EnforcementDifference {
  return {
    kind: DifferenceKind.EXTRA_GRANT,
    object: describeObject(object),
    role: grantee,
    privileges,
    message: `${grantee} has ${privileges.join(', ')} on ${describeObject(object)}, which the manifest does not give${consequence === undefined ? '' : ` (${consequence})`}.`,
    fix: [revokeSql(privileges, object, grantee)],
  };
}

function owners(current: string | null | undefined, expected: string): ReadonlySet<string> {
  return new Set(current === null || current === undefined ? [expected] : [current, expected]);
}

function capitalize(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}
