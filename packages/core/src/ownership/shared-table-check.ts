/**
 * The rules of each shared table, by ownership type and technique (chapter 9):
 * - common: the owner is a service and owns the table; the writers are services that do not
 *   (they send the owner messages);
 * - delegate: the same with the delegating services;
 * - consolidation: the merged service owns the table, and the services it was merged from are gone;
 * - data-domain: the services are declared, and none owns the table (the domain's schema does);
 * - table-split: each part is owned by exactly the service the split names.
 * Who may list the table in `owns` is decided here; `manifest-check.ts` reports everyone else.
 */
import type { SharedTable } from './manifest.js';
import type { ManifestIndex } from './manifest-index.js';

/** Checks one shared table and returns the services whose claim on it (in `owns`) is sound or already reported. */
export function checkSharedTable(index: ManifestIndex, shared: SharedTable): ReadonlySet<string> {
  const path = `shared.${shared.table}`;
  if (shared.ownership === 'common') {
    checkSoleOwner(index, shared.table, shared.owner, `${path}.owner`, 'common');
    checkOthers(index, shared.table, shared.owner, shared.writers, `${path}.writers`, 'writer');
    return new Set([shared.owner, ...shared.writers]);
  }
  switch (shared.technique) {
    case 'delegate':
      checkSoleOwner(index, shared.table, shared.owner, `${path}.owner`, 'delegate');
      checkOthers(index, shared.table, shared.owner, shared.delegates, `${path}.delegates`, 'delegate');
      return new Set([shared.owner, ...shared.delegates]);
    case 'consolidation':
      checkSoleOwner(index, shared.table, shared.into, `${path}.into`, 'consolidation');
      shared.from.forEach((service, position) => {
        if (service === shared.into || !index.services.has(service)) return;
        index.report(
          'CONSOLIDATED_SERVICE_STILL_APART',
          `${path}.from[${position}]`,
          `Shared table '${shared.table}' says '${service}' was consolidated into '${shared.into}', but '${service}' is still declared as a service.`,
          `Remove services.${service} (its tables now belong to '${shared.into}'), or choose another technique.`,
        );
      });
      return new Set([shared.into]);
    case 'data-domain':
      shared.services.forEach((service, position) => {
        index.knownService(
          service,
          `${path}.services[${position}]`,
          `a service of data domain '${shared.schema}'`,
        );
      });
      return new Set();
    case 'table-split':
      for (const [part, owner] of Object.entries(shared.parts)) checkPart(index, shared.table, part, owner);
      // A part named like the table is checked with the parts; nobody may own the table otherwise.
      return new Set(
        shared.table in shared.parts ? index.claims.get(shared.table)?.map((claim) => claim.service) : [],
      );
  }
}

function checkSoleOwner(
  index: ManifestIndex,
  table: string,
  owner: string,
  path: string,
  kind: string,
): void {
  const role =
    kind === 'consolidation'
      ? `the service '${table}' was consolidated into`
      : `the owner of ${kind} table '${table}'`;
  if (!index.knownService(owner, path, role)) return;
  if (index.owns(owner, table)) return;
  index.report(
    'OWNER_DOES_NOT_OWN',
    path,
    `'${owner}' is named as the owner of shared table '${table}' but does not list it in services.${owner}.owns.`,
    `Add ${table} to services.${owner}.owns.`,
  );
}

function checkOthers(
  index: ManifestIndex,
  table: string,
  owner: string,
  others: readonly string[],
  path: string,
  role: 'writer' | 'delegate',
): void {
  others.forEach((service, position) => {
    const at = `${path}[${position}]`;
    if (service === owner) {
      index.report(
        'OWNER_LISTED_AS_DELEGATE',
        at,
        `'${service}' owns shared table '${table}' and is also listed as a ${role}.`,
        `Remove '${service}' from the ${role}s: the owner writes the table itself.`,
      );
      return;
    }
    if (
      !index.knownService(
        service,
        at,
        role === 'writer' ? `a writer of '${table}'` : `a delegate of '${table}'`,
      )
    )
      return;
    const owned =
      index.manifest.services.find((candidate) => candidate.name === service)?.owns.indexOf(table) ?? -1;
    if (owned === -1) return;
    index.report(
      'DELEGATE_STILL_OWNS',
      `services.${service}.owns[${owned}]`,
      `'${service}' is a ${role} of shared table '${table}' (owned by '${owner}') but still lists it in its owns, so it would write it directly.`,
      `Remove ${table} from services.${service}.owns; ${role === 'writer' ? `send '${owner}' a message` : `ask '${owner}' to write it`} instead.`,
    );
  });
}

function checkPart(index: ManifestIndex, table: string, part: string, owner: string): void {
  const path = `shared.${table}.parts.${part}`;
  if (!index.knownService(owner, path, `the owner of part '${part}'`)) return;
  const claimants = (index.claims.get(part) ?? []).map((claim) => claim.service);
  if (!claimants.includes(owner)) {
    index.report(
      'TABLE_SPLIT_PART_NOT_OWNED',
      path,
      `Part '${part}' of split table '${table}' is assigned to '${owner}', which does not list it in its owns.`,
      `Add ${part} to services.${owner}.owns.`,
    );
  }
  for (const claim of index.claims.get(part) ?? []) {
    if (claim.service === owner) continue;
    index.report(
      'TABLE_SPLIT_PART_NOT_OWNED',
      claim.path,
      `Part '${part}' of split table '${table}' belongs to '${owner}' alone, but '${claim.service}' also lists it in its owns.`,
      `Remove ${part} from services.${claim.service}.owns; it reads the part or keeps a copy instead.`,
    );
  }
}
