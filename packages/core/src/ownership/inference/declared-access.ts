/**
 * What a manifest allows, per table, in the terms traffic is observed in (`schema.table`): who may
 * write it, who may read it, and who is expected to write it. Table locations follow the
 * enforcement (`ownership plan`): a service's tables are in its schema; `common` and `delegate`
 * tables in the owner's; `table-split` parts in the schema of the service owning each part; a
 * `data-domain` table in the shared schema; a `consolidation` table in the merged service's.
 * `reads: [s.t]` lets the reader read `t` in `s`'s schema; a writer may always read what it
 * writes. A table listed in a service's `writes` counts as declared for that service: the
 * manifest says it writes it (`ownership check` judges whether that is sound).
 */
import type { Manifest, ServiceDeclaration } from '../manifest.js';

/** One declared table. */
export interface DeclaredTable {
  /** `schema.table`. */
  readonly table: string;
  /** Services the manifest lets write it (owners, data-domain services, declared `writes`). */
  readonly writers: ReadonlySet<string>;
  /** Services expected to write it: its owners (reported when never seen writing). */
  readonly owners: ReadonlySet<string>;
  /** Services allowed to read it (writers included). */
  readonly readers: ReadonlySet<string>;
  /** How the manifest declares it, for messages: "owned by billing_payment", "common, owner audit". */
  readonly declaredAs: string;
  /** Services that must not write it directly although they are named with it (common writers, delegates). */
  readonly indirectWriters: ReadonlySet<string>;
}

type Draft = {
  table: string;
  writers: Set<string>;
  owners: Set<string>;
  readers: Set<string>;
  declaredAs: string[];
  indirectWriters: Set<string>;
};

/**
 * The declared tables of `manifest`, keyed by `schema.table`.
 *
 * @example declaredAccess(manifest).get('support_contract.contract')?.writers // Set { 'support_contract' }
 */
export function declaredAccess(manifest: Manifest): ReadonlyMap<string, DeclaredTable> {
  const services = new Map(manifest.services.map((service) => [service.name, service]));
  const schemaOf = (service: string): string => services.get(service)?.schema ?? service;
  const tables = new Map<string, Draft>();
  const draft = (table: string): Draft => {
    let entry = tables.get(table);
    if (entry === undefined) {
      entry = {
        table,
        writers: new Set(),
        owners: new Set(),
        readers: new Set(),
        declaredAs: [],
        indirectWriters: new Set(),
      };
      tables.set(table, entry);
    }
    return entry;
  };
  const own = (table: string, owner: string, how: string): void => {
    const entry = draft(table);
    entry.writers.add(owner);
    entry.owners.add(owner);
    entry.declaredAs.push(how);
  };
  for (const service of manifest.services) {
    for (const table of service.owns)
      own(`${service.schema}.${table}`, service.name, `owned by ${service.name}`);
  }
  for (const shared of manifest.shared) {
    if (shared.ownership === 'common') {
      own(`${schemaOf(shared.owner)}.${shared.table}`, shared.owner, `common, owner ${shared.owner}`);
      for (const writer of shared.writers)
        draft(`${schemaOf(shared.owner)}.${shared.table}`).indirectWriters.add(writer);
      continue;
    }
    switch (shared.technique) {
      case 'table-split':
        for (const [part, owner] of Object.entries(shared.parts)) {
          own(
            `${schemaOf(owner)}.${part}`,
            owner,
            `part of ${shared.table} (table-split), owned by ${owner}`,
          );
        }
        break;
      case 'data-domain': {
        const entry = draft(`${shared.schema}.${shared.table}`);
        entry.declaredAs.push(`data domain ${shared.schema} of ${shared.services.join(', ')}`);
        for (const service of shared.services) entry.writers.add(service);
        break;
      }
      case 'delegate':
        own(
          `${schemaOf(shared.owner)}.${shared.table}`,
          shared.owner,
          `joint (delegate), owner ${shared.owner}`,
        );
        for (const delegate of shared.delegates) {
          draft(`${schemaOf(shared.owner)}.${shared.table}`).indirectWriters.add(delegate);
        }
        break;
      case 'consolidation':
        own(`${schemaOf(shared.into)}.${shared.table}`, shared.into, `consolidated into ${shared.into}`);
        break;
    }
  }
  for (const service of manifest.services) addDeclaredWrites(service, tables, schemaOf);
  for (const entry of tables.values()) for (const writer of entry.writers) entry.readers.add(writer);
  for (const service of manifest.services) {
    for (const read of service.reads)
      tables.get(`${schemaOf(read.service)}.${read.table}`)?.readers.add(service.name);
  }
  return new Map(
    [...tables].map(([key, entry]) => [
      key,
      Object.freeze({ ...entry, declaredAs: entry.declaredAs.join('; ') }),
    ]),
  );
}

/** `writes: [t]` names a declared table by its name (or `service.t`); the service may write it. */
function addDeclaredWrites(
  service: ServiceDeclaration,
  tables: Map<string, Draft>,
  schemaOf: (service: string) => string,
): void {
  for (const name of service.writes ?? []) {
    const dot = name.indexOf('.');
    const candidates =
      dot > 0
        ? [`${schemaOf(name.slice(0, dot))}.${name.slice(dot + 1)}`]
        : [...tables.keys()].filter((table) => table.endsWith(`.${name}`));
    for (const table of candidates) tables.get(table)?.writers.add(service.name);
  }
}
