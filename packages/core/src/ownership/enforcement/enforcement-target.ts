/**
 * What enforcing a manifest in PostgreSQL means, as data: the roles that must exist, the schemas
 * and who owns them, the tables and who owns them, and who may write and read what. Pure: no I/O.
 *
 * How each declaration compiles (the roles are named by `serviceRoles`):
 * - a service: schema `<schema>` owned by `<service>_owner`; `<service>_runtime` gets `USAGE` on
 *   it and `SELECT, INSERT, UPDATE, DELETE` on every table in it (also on future tables, through
 *   default privileges), and `USAGE, SELECT` on its sequences;
 * - `reads: [s.t]`: the reader's runtime role gets `USAGE` on `s`'s schema and `SELECT` on `t`;
 * - `common` and `delegate`: the table belongs to the owner's schema; the writers or delegates get
 *   no write grant (they send the owner messages, or ask it);
 * - `table-split`: each part belongs to the schema of the service that owns it;
 * - `data-domain`: the shared schema is owned by `<schema>_owner`, and every listed service's
 *   runtime role may write every table in it;
 * - `consolidation`: the table belongs to the merged service (`into`);
 * - a copy: the copy table belongs to the service that keeps it; it gives no read of the original
 *   (the copy is kept up to date by messages, not by reading);
 * - Converge's own tables (schema `converge`: outbox, inbox, dead letters, relays, log, sagas):
 *   owned by one NOLOGIN role, `converge_owner` (`convergeOwner`), as which `converge migrate`
 *   runs; every runtime role of the database gets `USAGE` on the schema, DML on its tables and
 *   `USAGE, SELECT` on its sequences, and only `SELECT` on `schema_migrations`. Converge's tables
 *   are not split by service: runtime roles that share a database share them (ADR 0018).
 */
import { ConvergeError } from '../../core/errors.js';
import { validateIdentifier } from '../identifiers.js';
import type { Manifest, ServiceDeclaration } from '../manifest.js';
import { OWNER_ROLE_SUFFIX, serviceRoles } from './enforcement-roles.js';

/** A role the manifest needs. */
export interface TargetRole {
  readonly name: string;
  /** Runtime roles log in; owner roles do not (a migration user runs `SET ROLE` to them). */
  readonly login: boolean;
  /** The schemas, in order, pinned as the role's `search_path`. */
  readonly searchPath: readonly string[];
  /** What it is for, in words ("owner of service catalog"). */
  readonly purpose: string;
}

/** A schema, its owner, and the roles that may use it. */
export interface TargetSchema {
  readonly name: string;
  /** The owner role: the only one that may create, alter or drop in it. */
  readonly owner: string;
  /** Runtime roles that get DML on every table (and `USAGE, SELECT` on every sequence) in it. */
  readonly writers: readonly string[];
  /** Runtime roles that get `USAGE` on the schema: the writers and the readers of its tables. */
  readonly usage: readonly string[];
  /** Tables in it that the writers may only `SELECT` (`converge.schema_migrations`). */
  readonly readOnly: readonly string[];
}

/** A table the manifest names. */
export interface TargetTable {
  readonly schema: string;
  readonly name: string;
  /** The owner role (the schema's owner). */
  readonly owner: string;
  /** Runtime roles of other services that may `SELECT` it. */
  readonly readers: readonly string[];
}

/** The state a manifest asks for (all of it, or what one service owns). */
export interface EnforcementTarget {
  readonly roles: readonly TargetRole[];
  readonly schemas: readonly TargetSchema[];
  readonly tables: readonly TargetTable[];
  /** The runtime roles in scope: they must be members of no role and create nothing anywhere. */
  readonly runtimeRoles: readonly string[];
}

/** Options of `enforcementTarget` and `planEnforcement`. */
export interface EnforcementScope {
  /**
   * Only what this service owns: its roles, its schema (and the data-domain schemas it writes),
   * their tables, and every grant on them, including to the services that read them (whose runtime
   * roles are created when missing). What the service reads elsewhere is granted by the owner's
   * plan. Default: the whole manifest, enforced in one database all its services share.
   *
   * Converge's schema is in scope either way. With `service`, its runtime roles are those of the
   * services whose `database` in the manifest is written exactly as this service's (they share
   * its database, and so its Converge tables); any other runtime role's grant there is extra.
   */
  readonly service?: string;
  /** The NOLOGIN role that owns schema `converge` and Converge's tables. Default `converge_owner`. */
  readonly convergeOwner?: string;
}

/** The schema of Converge's own tables in PostgreSQL (see `POSTGRES_MIGRATIONS`). */
export const CONVERGE_SCHEMA = 'converge';
/** The default owner of `CONVERGE_SCHEMA`. */
export const CONVERGE_OWNER_ROLE = 'converge_owner';
/** Converge's tables a runtime role may read but not write: only `converge migrate` writes them. */
const CONVERGE_READ_ONLY_TABLES: readonly string[] = ['schema_migrations'];

interface SchemaDraft {
  owner: string;
  writers: Set<string>;
  usage: Set<string>;
  /** The services whose tables live here (the service, or the data domain's services). */
  services: Set<string>;
  /** A data domain's schema (owned by `<schema>_owner`), not a service's. */
  domain: boolean;
}

interface TableDraft {
  schema: string;
  name: string;
  owner: string;
  readers: Set<string>;
}

/**
 * The roles, schemas, tables and grants that enforce `manifest`.
 *
 * @throws ConvergeError `IDENTIFIER_INVALID` for a name (or a role name made from it) PostgreSQL
 *   cannot take as it is; `OWNERSHIP_ENFORCEMENT_INVALID` when the manifest contradicts itself
 *   (a table or schema with two owners, an unknown service); `OWNERSHIP_SERVICE_NOT_FOUND` when
 *   `scope.service` is not in it.
 * @example enforcementTarget(manifest, { service: 'catalog' }).roles.map((role) => role.name)
 */
export function enforcementTarget(manifest: Manifest, scope: EnforcementScope = {}): EnforcementTarget {
  const services = new Map(manifest.services.map((service) => [service.name, service]));
  const only = scope.service === undefined ? undefined : services.get(scope.service);
  if (scope.service !== undefined && only === undefined) {
    throw new ConvergeError(
      'OWNERSHIP_SERVICE_NOT_FOUND',
      `The manifest declares no service '${scope.service}'; its services are: ${[...services.keys()].join(', ')}.`,
      { details: { service: scope.service } },
    );
  }
  const serviceOf = (name: string, where: string): ServiceDeclaration => {
    const found = services.get(name);
    if (found === undefined)
      throw invalid(`${where} names the service '${name}', which the manifest does not declare`);
    return found;
  };
  for (const service of manifest.services) checkService(service);
  const convergeOwner = scope.convergeOwner ?? CONVERGE_OWNER_ROLE;
  check(convergeOwner, "owner role of Converge's schema");
  const { schemas, domainSchemas } = collectSchemas(manifest, serviceOf);
  claimConvergeSchema(schemas, convergeOwner, sharingDatabase(manifest, only));
  const tables = collectTables(manifest, schemas, serviceOf);
  const roles = collectRoles(manifest, schemas, domainSchemas);
  roles.push(...convergeRole(roles, convergeOwner));
  const target: EnforcementTarget = {
    roles,
    schemas: [...schemas].map(([name, draft]) => ({
      name,
      owner: draft.owner,
      writers: [...draft.writers],
      usage: [...draft.usage],
      readOnly: name === CONVERGE_SCHEMA ? CONVERGE_READ_ONLY_TABLES : [],
    })),
    tables: [...tables.values()].map((table) => ({ ...table, readers: [...table.readers] })),
    runtimeRoles: manifest.services.map((service) => serviceRoles(service.name).runtime),
  };
  return Object.freeze(only === undefined ? target : scoped(target, only, schemas));
}

type ServiceOf = (name: string, where: string) => ServiceDeclaration;

/**
 * The services whose runtime roles use Converge's tables in the database being enforced: all of
 * them (one shared database), or, for `--service`, those whose `database` is written exactly as
 * that service's.
 */
function sharingDatabase(manifest: Manifest, only: ServiceDeclaration | undefined): ServiceDeclaration[] {
  if (only === undefined) return [...manifest.services];
  return manifest.services.filter((service) => service.database === only.database);
}

/** Schema `converge`, owned by `owner`, written by the runtime roles of `services`. */
function claimConvergeSchema(
  schemas: Map<string, SchemaDraft>,
  owner: string,
  services: readonly ServiceDeclaration[],
): void {
  const taken = schemas.get(CONVERGE_SCHEMA);
  if (taken !== undefined) {
    throw invalid(
      `The schema '${CONVERGE_SCHEMA}' is Converge's own (outbox, inbox, dead letters), but the manifest also gives it to ${[...taken.services].join(', ') || 'a data domain'}; give them another schema`,
    );
  }
  const draft = claimSchema(schemas, CONVERGE_SCHEMA, owner, "Converge's own tables", false);
  for (const service of services) {
    const { runtime } = serviceRoles(service.name);
    draft.writers.add(runtime);
    draft.usage.add(runtime);
    draft.services.add(service.name);
  }
}

/** The owner role of Converge's schema, unless a service's or data domain's role has its name. */
function convergeRole(roles: readonly TargetRole[], name: string): TargetRole[] {
  const clash = roles.find((role) => role.name === name);
  if (clash !== undefined) {
    throw invalid(
      `The role name '${name}' would serve twice (${clash.purpose}, and owner of Converge's schema ${CONVERGE_SCHEMA}); rename the service or the data-domain schema, or choose another owner for Converge's schema (--converge-owner)`,
    );
  }
  return [
    {
      name,
      login: false,
      searchPath: [CONVERGE_SCHEMA],
      purpose: `owner of Converge's schema ${CONVERGE_SCHEMA}`,
    },
  ];
}

/** Each service's schema, and each data-domain schema with the services that write it. */
function collectSchemas(
  manifest: Manifest,
  serviceOf: ServiceOf,
): { schemas: Map<string, SchemaDraft>; domainSchemas: Map<string, string[]> } {
  const schemas = new Map<string, SchemaDraft>();
  for (const service of manifest.services) {
    const { owner, runtime } = serviceRoles(service.name);
    const draft = claimSchema(schemas, service.schema, owner, `service '${service.name}'`, false);
    draft.writers.add(runtime);
    draft.usage.add(runtime);
    draft.services.add(service.name);
  }
  const domainSchemas = new Map<string, string[]>();
  for (const shared of manifest.shared) {
    if (shared.ownership !== 'joint' || shared.technique !== 'data-domain') continue;
    check(shared.schema, `data-domain schema of shared table '${shared.table}'`);
    const owner = `${shared.schema}${OWNER_ROLE_SUFFIX}`;
    check(owner, `owner role name of data-domain schema '${shared.schema}'`);
    const draft = claimSchema(
      schemas,
      shared.schema,
      owner,
      `the data domain of shared table '${shared.table}'`,
      true,
    );
    for (const name of shared.services) {
      serviceOf(name, `Data-domain table '${shared.table}'`);
      const { runtime } = serviceRoles(name);
      draft.writers.add(runtime);
      draft.usage.add(runtime);
      draft.services.add(name);
      const known = domainSchemas.get(name) ?? [];
      if (!known.includes(shared.schema)) domainSchemas.set(name, [...known, shared.schema]);
    }
  }
  return { schemas, domainSchemas };
}

/** Every table the manifest names, in the schema of the service (or data domain) that owns it. */
function collectTables(
  manifest: Manifest,
  schemas: ReadonlyMap<string, SchemaDraft>,
  serviceOf: ServiceOf,
): Map<string, TableDraft> {
  const tables = new Map<string, TableDraft>();
  const addTable = (schema: string, name: string, where: string): TableDraft => {
    check(name, `table name in ${where}`);
    const key = `${schema}.${name}`;
    let table = tables.get(key);
    if (table === undefined) {
      table = { schema, name, owner: schemas.get(schema)!.owner, readers: new Set() };
      tables.set(key, table);
    }
    return table;
  };
  const addServiceTable = (service: string, name: string, where: string) =>
    addTable(serviceOf(service, where).schema, name, where);
  for (const service of manifest.services) {
    for (const table of service.owns) addServiceTable(service.name, table, `service '${service.name}'`);
  }
  for (const shared of manifest.shared) {
    const where = `shared table '${shared.table}'`;
    if (shared.ownership === 'common') addServiceTable(shared.owner, shared.table, where);
    else if (shared.technique === 'table-split') {
      for (const [part, owner] of Object.entries(shared.parts)) addServiceTable(owner, part, where);
    } else if (shared.technique === 'data-domain') addTable(shared.schema, shared.table, where);
    else if (shared.technique === 'delegate') addServiceTable(shared.owner, shared.table, where);
    else addServiceTable(shared.into, shared.table, where);
  }
  for (const copy of manifest.copies) {
    addServiceTable(copy.in.service, copy.in.table, `the copy of '${copy.of.service}.${copy.of.table}'`);
  }
  for (const service of manifest.services) {
    const { runtime } = serviceRoles(service.name);
    for (const read of service.reads) {
      const table = addServiceTable(read.service, read.table, `the reads of service '${service.name}'`);
      if (read.service === service.name) continue;
      table.readers.add(runtime);
      schemas.get(table.schema)!.usage.add(runtime);
    }
  }
  return tables;
}

/** Per service an owner and a runtime role; per data-domain schema an owner role. */
function collectRoles(
  manifest: Manifest,
  schemas: ReadonlyMap<string, SchemaDraft>,
  domainSchemas: ReadonlyMap<string, readonly string[]>,
): TargetRole[] {
  const roles = new Map<string, TargetRole>();
  const addRole = (role: TargetRole) => {
    const existing = roles.get(role.name);
    if (existing !== undefined) {
      throw invalid(
        `The role name '${role.name}' would serve twice (${existing.purpose}, and ${role.purpose}); rename the service or the data-domain schema`,
      );
    }
    roles.set(role.name, role);
  };
  for (const service of manifest.services) {
    const { owner, runtime } = serviceRoles(service.name);
    const searchPath = [service.schema, ...(domainSchemas.get(service.name) ?? [])];
    addRole({ name: owner, login: false, searchPath, purpose: `owner of service ${service.name}` });
    addRole({ name: runtime, login: true, searchPath, purpose: `runtime of service ${service.name}` });
  }
  for (const [name, draft] of schemas) {
    if (draft.domain) {
      addRole({
        name: draft.owner,
        login: false,
        searchPath: [name],
        purpose: `owner of data-domain schema ${name}`,
      });
    }
  }
  return [...roles.values()];
}

/** What `service` owns, and the roles that need to exist for the grants on it. */
function scoped(
  target: EnforcementTarget,
  service: ServiceDeclaration,
  schemas: ReadonlyMap<string, SchemaDraft>,
): EnforcementTarget {
  const inScope = new Set([...schemas].filter(([, d]) => d.services.has(service.name)).map(([n]) => n));
  const kept = target.schemas.filter((schema) => inScope.has(schema.name));
  const { owner, runtime } = serviceRoles(service.name);
  const needed = new Set([owner, runtime, ...kept.flatMap((schema) => [schema.owner, ...schema.usage])]);
  return {
    roles: target.roles.filter((role) => needed.has(role.name)),
    schemas: kept,
    tables: target.tables.filter((table) => inScope.has(table.schema)),
    runtimeRoles: target.runtimeRoles.filter((role) => needed.has(role)),
  };
}

function claimSchema(
  schemas: Map<string, SchemaDraft>,
  name: string,
  owner: string,
  claimant: string,
  domain: boolean,
): SchemaDraft {
  const existing = schemas.get(name);
  if (existing === undefined) {
    const draft: SchemaDraft = { owner, writers: new Set(), usage: new Set(), services: new Set(), domain };
    schemas.set(name, draft);
    return draft;
  }
  if (existing.owner !== owner) {
    throw invalid(
      `The schema '${name}' would be owned both by ${existing.owner} and by ${owner} (for ${claimant}); give each service its own schema, and a data domain a schema of its own`,
    );
  }
  return existing;
}

function checkService(service: ServiceDeclaration): void {
  check(service.name, 'service name');
  check(service.schema, `schema of service '${service.name}'`);
  const { owner, runtime } = serviceRoles(service.name);
  check(owner, `owner role name of service '${service.name}'`);
  check(runtime, `runtime role name of service '${service.name}'`);
}

function check(name: string, what: string): void {
  const problem = validateIdentifier(name, what);
  if (problem !== undefined) {
    throw new ConvergeError('IDENTIFIER_INVALID', `${problem.message} ${problem.remedy}`, {
      details: { problem: problem.code },
    });
  }
}

function invalid(problem: string): ConvergeError {
  return new ConvergeError(
    'OWNERSHIP_ENFORCEMENT_INVALID',
    `${problem}. Run 'converge ownership check -f converge.yaml' for every problem of the manifest.`,
  );
}
