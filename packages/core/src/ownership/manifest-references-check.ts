/**
 * References across the manifest: what a service reads (`reads: [service.table]`) and the copies
 * services keep of each other's data (`copies:`). Each must name a declared service and a table
 * that service owns; a copy is a table the copying service owns, never the owner itself.
 */
import { didYouMean } from './closest-name.js';
import type { TableRef } from './manifest.js';
import type { ManifestIndex } from './manifest-index.js';

/** Reports reads and copies that refer to unknown services or tables. */
export function checkReferences(index: ManifestIndex): void {
  for (const service of index.manifest.services) {
    service.reads.forEach((ref, position) => {
      checkTableRef(index, ref, `services.${service.name}.reads[${position}]`, 'UNKNOWN_TABLE');
    });
  }
  index.manifest.copies.forEach((copy, position) => {
    const path = `copies[${position}]`;
    checkTableRef(index, copy.of, `${path}.of`, 'COPY_SOURCE_UNDECLARED');
    if (!index.knownService(copy.in.service, `${path}.in`, 'the service keeping the copy')) return;
    if (copy.in.service === copy.of.service) {
      index.report(
        'COPY_TARGET_INVALID',
        `${path}.in`,
        `A copy of ${copy.of.service}.${copy.of.table} is kept by its owner '${copy.of.service}' itself.`,
        'A copy is kept by another service; name that service in in:.',
      );
    } else if (!index.owns(copy.in.service, copy.in.table)) {
      index.report(
        'COPY_TARGET_INVALID',
        `${path}.in`,
        `The copy ${copy.in.service}.${copy.in.table} is not a table '${copy.in.service}' owns.`,
        `Add ${copy.in.table} to services.${copy.in.service}.owns: the copying service writes its copy.`,
      );
    }
  });
}

function checkTableRef(
  index: ManifestIndex,
  ref: TableRef,
  path: string,
  code: 'UNKNOWN_TABLE' | 'COPY_SOURCE_UNDECLARED',
): void {
  if (!index.knownService(ref.service, path, `the owner of ${ref.table}`)) return;
  if (index.owns(ref.service, ref.table) || dataDomainOf(index, ref)) return;
  const owners = (index.claims.get(ref.table) ?? []).map((claim) => `${claim.service}.${ref.table}`);
  const owned = index.services.get(ref.service)?.owns ?? [];
  index.report(
    code,
    path,
    `'${ref.service}' does not own a table '${ref.table}'${owners.length > 0 ? ` (${owners.join(' and ')} does)` : ''}.`,
    owners.length > 0
      ? `Write ${owners[0]}.`
      : `Name one of the tables '${ref.service}' owns${owned.length > 0 ? ` (${owned.join(', ')})` : ''}, or add ${ref.table} to services.${ref.service}.owns.${didYouMean(ref.table, owned)}`,
  );
}

/** A data-domain table may be referenced through any of the services the domain lists. */
function dataDomainOf(index: ManifestIndex, ref: TableRef): boolean {
  const shared = index.shared.get(ref.table);
  return (
    shared?.ownership === 'joint' &&
    shared.technique === 'data-domain' &&
    shared.services.includes(ref.service)
  );
}
