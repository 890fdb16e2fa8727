/**
 * Compares what services did (observed traffic) with what the manifest declares, most important
 * first:
 *
 * 1. `UNDECLARED_WRITER` (problem): a service wrote a table the manifest does not let it write —
 *    the headline finding, chapter 9's rule broken in production.
 * 2. `UNDECLARED_READER` (problem): a service read another service's table without `reads`.
 * 3. `OWNER_NEVER_WRITES` (info): a declared owner was never seen writing its table (maybe the
 *    traffic did not cover it; maybe the declaration is stale).
 * 4. `UNDECLARED_TABLE` (info): a table was seen in the traffic but the manifest does not mention
 *    it.
 *
 * A role that maps to no declared service is still reported under the name it maps to, marked as
 * not in the manifest: an unknown writer of a declared table is a finding like any other.
 */
import type { Manifest } from '../manifest.js';
import { type DeclaredTable, declaredAccess } from './declared-access.js';
import type { TableOperation } from './table-access.js';
import type { TableAccessObservation, TrafficObservations } from './traffic-observations.js';

/** The kinds of difference, in the order they are reported. */
export const DifferenceKind = {
  UNDECLARED_WRITER: 'UNDECLARED_WRITER',
  UNDECLARED_READER: 'UNDECLARED_READER',
  OWNER_NEVER_WRITES: 'OWNER_NEVER_WRITES',
  UNDECLARED_TABLE: 'UNDECLARED_TABLE',
} as const;
export type DifferenceKind = (typeof DifferenceKind)[keyof typeof DifferenceKind];

/** One difference between the traffic and the manifest. */
export interface OwnershipDifference {
  readonly kind: DifferenceKind;
  /** `problem` for the first two kinds (the command exits 3), `info` for the others. */
  readonly severity: 'problem' | 'info';
  /** `schema.table`. */
  readonly table: string;
  /** The service concerned (absent for an undeclared table). */
  readonly service?: string;
  /** Whether `service` is declared in the manifest. */
  readonly declaredService?: boolean;
  /** The roles seen doing it. */
  readonly roles: readonly string[];
  readonly operations: readonly TableOperation[];
  /** Executions seen. */
  readonly calls: number;
  /** One statement that did it. */
  readonly example?: string;
  readonly message: string;
  readonly remedy: string;
}

const ORDER: readonly DifferenceKind[] = Object.values(DifferenceKind);

/**
 * The differences between `observations` and `manifest`, most important first (then by table and
 * service).
 *
 * @example compareWithManifest(observations, manifest).filter((d) => d.severity === 'problem')
 */
export function compareWithManifest(
  observations: TrafficObservations,
  manifest: Manifest,
): OwnershipDifference[] {
  const declared = declaredAccess(manifest);
  const services = new Set(manifest.services.map((service) => service.name));
  const differences: OwnershipDifference[] = [];
  const seen = groupByService(observations.accesses);
  for (const group of seen) {
    const table = declared.get(group.table);
    if (table === undefined) continue;
    if (group.access === 'write' && !table.writers.has(group.service)) {
      differences.push(undeclaredWriter(group, table, services.has(group.service)));
    } else if (group.access === 'read' && !table.readers.has(group.service)) {
      differences.push(undeclaredReader(group, table, services.has(group.service), owningServices(table)));
    }
  }
  for (const table of declared.values()) {
    for (const owner of table.owners) {
      if (
        !seen.some(
          (group) => group.table === table.table && group.service === owner && group.access === 'write',
        )
      ) {
        differences.push(ownerNeverWrites(table, owner));
      }
    }
  }
  differences.push(...undeclaredTables(seen, declared));
  return differences.sort(
    (a, b) =>
      ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) ||
      a.table.localeCompare(b.table) ||
      (a.service ?? '').localeCompare(b.service ?? ''),
  );
}

/** Observations merged per (table, service, access): the roles of one service count together. */
interface ServiceAccess {
  readonly table: string;
  readonly service: string;
  readonly access: 'read' | 'write';
  readonly roles: string[];
  readonly operations: TableOperation[];
  calls: number;
  readonly example: string;
}

function groupByService(accesses: readonly TableAccessObservation[]): ServiceAccess[] {
  const groups = new Map<string, ServiceAccess>();
  for (const access of accesses) {
    const key = JSON.stringify([access.table, access.service, access.access]);
    const group = groups.get(key) ?? {
      table: access.table,
      service: access.service,
      access: access.access,
      roles: [],
      operations: [],
      calls: 0,
      example: access.example,
    };
    groups.set(key, group);
    if (!group.roles.includes(access.role)) group.roles.push(access.role);
    for (const operation of access.operations)
      if (!group.operations.includes(operation)) group.operations.push(operation);
    group.operations.sort();
    group.calls += access.calls;
  }
  return [...groups.values()];
}

function owningServices(table: DeclaredTable): string {
  return [...table.writers].join(', ') || 'no service';
}

function who(group: ServiceAccess, declaredService: boolean): string {
  const roles = group.roles.join(', ');
  return `Service '${group.service}'${declaredService ? '' : ' (not in the manifest)'} (role ${roles})`;
}

function base(group: ServiceAccess, declaredService: boolean) {
  return {
    table: group.table,
    service: group.service,
    declaredService,
    roles: [...group.roles].sort(),
    operations: group.operations,
    calls: group.calls,
    example: group.example,
  };
}

function undeclaredWriter(
  group: ServiceAccess,
  table: DeclaredTable,
  declaredService: boolean,
): OwnershipDifference {
  const owners = owningServices(table);
  const indirect = table.indirectWriters.has(group.service)
    ? ` The manifest names '${group.service}' as a writer that goes through ${owners}, not directly.`
    : '';
  return {
    kind: DifferenceKind.UNDECLARED_WRITER,
    severity: 'problem',
    ...base(group, declaredService),
    message: `${who(group, declaredService)} wrote ${group.table} (${group.operations.join(', ')}; ${group.calls} time(s)), which it does not own: the manifest has it ${table.declaredAs}.${indirect}`,
    remedy: `Route the change through ${owners} (a message or a request), or declare ${group.table} under shared: with '${group.service}' among its writers; then enforce it with converge ownership apply.`,
  };
}

function undeclaredReader(
  group: ServiceAccess,
  table: DeclaredTable,
  declaredService: boolean,
  owners: string,
): OwnershipDifference {
  const name = group.table.slice(group.table.indexOf('.') + 1);
  const owner = [...table.owners][0] ?? [...table.writers][0];
  return {
    kind: DifferenceKind.UNDECLARED_READER,
    severity: 'problem',
    ...base(group, declaredService),
    message: `${who(group, declaredService)} read ${group.table} (${group.calls} time(s)), which belongs to ${owners}, without a reads: declaration.`,
    remedy:
      owner === undefined
        ? `Declare who owns ${group.table}, and add it to reads: of '${group.service}' if it may read it.`
        : `Add ${owner}.${name} to reads: of '${group.service}' if it may read it, or ask ${owner} for the data (a request, or a copy kept in sync).`,
  };
}

function ownerNeverWrites(table: DeclaredTable, owner: string): OwnershipDifference {
  return {
    kind: DifferenceKind.OWNER_NEVER_WRITES,
    severity: 'info',
    table: table.table,
    service: owner,
    declaredService: true,
    roles: [],
    operations: [],
    calls: 0,
    message: `Service '${owner}' owns ${table.table} (${table.declaredAs}) but was never seen writing it.`,
    remedy: `Check that the traffic covered ${owner}'s writes and that its roles map to '${owner}' (--role-map); if it no longer writes ${table.table}, update the manifest.`,
  };
}

function undeclaredTables(
  seen: readonly ServiceAccess[],
  declared: ReadonlyMap<string, DeclaredTable>,
): OwnershipDifference[] {
  const byTable = new Map<string, ServiceAccess[]>();
  for (const group of seen) {
    if (declared.has(group.table)) continue;
    byTable.set(group.table, [...(byTable.get(group.table) ?? []), group]);
  }
  return [...byTable].map(([table, groups]) => {
    const writers = [...new Set(groups.filter((g) => g.access === 'write').map((g) => g.service))].sort();
    const readers = [...new Set(groups.filter((g) => g.access === 'read').map((g) => g.service))].sort();
    const seenAs = [
      writers.length > 0 ? `written by ${writers.join(', ')}` : '',
      readers.length > 0 ? `read by ${readers.join(', ')}` : '',
    ]
      .filter((part) => part.length > 0)
      .join(' and ');
    return {
      kind: DifferenceKind.UNDECLARED_TABLE,
      severity: 'info' as const,
      table,
      roles: [...new Set(groups.flatMap((g) => g.roles))].sort(),
      operations: [...new Set(groups.flatMap((g) => g.operations))].sort(),
      calls: groups.reduce((sum, g) => sum + g.calls, 0),
      message: `${table} is ${seenAs}, but the manifest does not declare it.`,
      remedy:
        writers.length === 1
          ? `Add it to owns: of '${writers[0]}'.`
          : writers.length > 1
            ? `Declare it under shared: (common with an owner, or joint with a technique).`
            : `Declare the service that writes it.`,
    };
  });
}
