/**
 * The second pass over a manifest: the rules that need all of it. Chapter 9's first rule is that
 * the service that writes a table owns it, so a table has one owner unless a shared declaration
 * says how several services write it.
 *
 * "Written by" means: a service writes a table when the table is in its `owns` (it owns it) or in
 * its `writes` (it writes it without owning it). Then:
 * - a table in two services' `owns` without a shared declaration is claimed by two owners;
 * - a table in a service's `writes` is sound only for a data-domain table listing that service;
 *   written by a non-owner without a shared declaration it is "written by several services";
 *   with one (common, delegate, …) the writer must go through the owner instead;
 * - each shared table's own rules are in `shared-table-check.ts`, the references (reads, copies)
 *   in `manifest-references-check.ts`.
 */

import { maskSecrets } from '../core/database-url.js';
import { databaseReferenceProblem, hasLiteralPassword } from './database-reference.js';
import type { Manifest, SharedTable } from './manifest.js';
import { type CheckManifestOptions, indexManifest, type ManifestIndex } from './manifest-index.js';
import type { ManifestProblem } from './manifest-problem.js';
import { checkReferences } from './manifest-references-check.js';
import { checkSharedTable } from './shared-table-check.js';
import { findTruncationCollisions } from './truncation-collisions.js';

export type { CheckManifestOptions } from './manifest-index.js';

/**
 * Checks the rules of a manifest whose shape is sound (what `parseManifest` builds, or one made in
 * code): ownership conflicts, each shared table's technique, references to services and tables,
 * copies, names that collide once truncated, passwords written in the file. `parseManifest` calls
 * it; call it yourself for a manifest you built. Never throws.
 *
 * @returns The problems, in the order the rules found them (empty when the manifest is sound).
 * @example checkManifest(manifest).map((problem) => problem.code) // ['TABLE_CLAIMED_BY_TWO_OWNERS']
 */
export function checkManifest(manifest: Manifest, options: CheckManifestOptions = {}): ManifestProblem[] {
  const index = indexManifest(manifest, options);
  findTruncationCollisions(manifest, index.report);
  checkDatabases(index);
  const handled = new Map<string, ReadonlySet<string>>();
  for (const shared of manifest.shared) handled.set(shared.table, checkSharedTable(index, shared));
  checkClaims(index, handled);
  checkWrites(index);
  checkReferences(index);
  return index.problems;
}

function checkDatabases(index: ManifestIndex): void {
  for (const service of index.manifest.services) {
    const path = `services.${service.name}.database`;
    if (databaseReferenceProblem(service.database) !== undefined || !hasLiteralPassword(service.database))
      continue;
    index.report(
      'DATABASE_PASSWORD_IN_FILE',
      path,
      `Service '${service.name}': database '${maskSecrets(service.database)}' has its password written in the manifest.`,
      // Not a whole URL: the CLI masks `scheme://user:…@` even when it holds a ${NAME} reference.
      `Write \${${service.name.toUpperCase()}_PASSWORD} in place of the password (${service.name}:\${${service.name.toUpperCase()}_PASSWORD}@host) and set ${service.name.toUpperCase()}_PASSWORD in the environment.`,
    );
  }
}

/** Parts of split tables: part → the split table. */
function splitParts(manifest: Manifest): Map<string, string> {
  const parts = new Map<string, string>();
  for (const shared of manifest.shared) {
    if (shared.ownership === 'joint' && shared.technique === 'table-split') {
      for (const part of Object.keys(shared.parts)) parts.set(part, shared.table);
    }
  }
  return parts;
}

function checkClaims(index: ManifestIndex, handled: ReadonlyMap<string, ReadonlySet<string>>): void {
  const parts = splitParts(index.manifest);
  for (const [table, claims] of index.claims) {
    const shared = index.shared.get(table);
    if (shared === undefined) {
      if (parts.has(table) || claims.length < 2) continue;
      const first = claims[0]?.service ?? '';
      for (const claim of claims.slice(1)) {
        index.report(
          'TABLE_CLAIMED_BY_TWO_OWNERS',
          claim.path,
          `Table '${table}' is claimed by '${first}' and by '${claim.service}'; a table has one owner.`,
          `Keep it in one service's owns, or declare shared.${table} with its ownership (common or joint with a technique).`,
        );
      }
      continue;
    }
    const allowed = handled.get(table) ?? new Set();
    for (const claim of claims) {
      if (!allowed.has(claim.service)) reportSharedClaim(index, shared, claim.service, claim.path);
    }
  }
}

function reportSharedClaim(index: ManifestIndex, shared: SharedTable, service: string, path: string): void {
  const table = shared.table;
  if (shared.ownership === 'joint' && shared.technique === 'data-domain') {
    index.report(
      'DATA_DOMAIN_TABLE_OWNED',
      path,
      `Table '${table}' belongs to the data domain '${shared.schema}' (shared.${table}), but '${service}' lists it in its owns.`,
      `Remove ${table} from services.${service}.owns; ${shared.services.includes(service) ? 'the data domain already lets it write the table' : `add '${service}' to shared.${table}.services if it writes the table`}.`,
    );
    return;
  }
  const owner = ownerOf(shared);
  index.report(
    'TABLE_CLAIMED_BY_TWO_OWNERS',
    path,
    owner === undefined
      ? `Table '${table}' is split into parts (shared.${table}), but '${service}' still lists the whole table in its owns.`
      : `Table '${table}' is owned by '${owner}' (shared.${table}), but '${service}' also lists it in its owns.`,
    owner === undefined
      ? `Remove ${table} from services.${service}.owns and own its parts instead.`
      : `Remove ${table} from services.${service}.owns.`,
  );
}

function ownerOf(shared: SharedTable): string | undefined {
  if (shared.ownership === 'common') return shared.owner;
  if (shared.technique === 'delegate') return shared.owner;
  if (shared.technique === 'consolidation') return shared.into;
  return undefined;
}

function checkWrites(index: ManifestIndex): void {
  const parts = splitParts(index.manifest);
  for (const service of index.manifest.services) {
    (service.writes ?? []).forEach((table, position) => {
      const path = `services.${service.name}.writes[${position}]`;
      const shared = index.shared.get(table);
      const owners = (index.claims.get(table) ?? []).map((claim) => claim.service);
      if (owners.includes(service.name)) {
        index.report(
          'DUPLICATE_ENTRY',
          path,
          `'${service.name}' lists '${table}' in both owns and writes.`,
          `Remove it from writes: owning a table means writing it.`,
        );
      } else if (shared !== undefined) {
        checkSharedWrite(index, shared, service.name, path);
      } else if (parts.has(table)) {
        index.report(
          'SHARED_TABLE_WRITTEN_DIRECTLY',
          path,
          `'${service.name}' writes '${table}', a part of split table '${parts.get(table)}' owned by '${owners[0] ?? '?'}'.`,
          `Stop writing it from '${service.name}'; send '${owners[0] ?? 'its owner'}' a message or a request.`,
        );
      } else if (owners.length > 0) {
        index.report(
          'TABLE_WRITTEN_BY_SEVERAL',
          path,
          `Table '${table}' is owned by '${owners[0]}' but '${service.name}' writes it too, and no shared declaration says how.`,
          `Stop writing it from '${service.name}' (ask '${owners[0]}' to), or declare shared.${table}: common with owner ${owners[0]}, or joint with a technique.`,
        );
      } else {
        index.report(
          'UNKNOWN_TABLE',
          path,
          `'${service.name}' writes '${table}', which no service owns and no shared declaration names.`,
          `Add ${table} to the owns of the service that owns it.`,
        );
      }
    });
  }
}

function checkSharedWrite(index: ManifestIndex, shared: SharedTable, service: string, path: string): void {
  if (shared.ownership === 'joint' && shared.technique === 'data-domain') {
    if (shared.services.includes(service)) return;
    index.report(
      'SHARED_TABLE_WRITTEN_DIRECTLY',
      path,
      `'${service}' writes '${shared.table}' of the data domain '${shared.schema}', which does not list it.`,
      `Add '${service}' to shared.${shared.table}.services, or stop writing the table.`,
    );
    return;
  }
  const owner = ownerOf(shared) ?? 'its owner';
  const how =
    shared.ownership === 'common'
      ? `send '${owner}' a fire-and-forget message on a persisted queue (list it in shared.${shared.table}.writers)`
      : `delegate the write to '${owner}'`;
  index.report(
    'SHARED_TABLE_WRITTEN_DIRECTLY',
    path,
    `'${service}' writes '${shared.table}' directly, but shared.${shared.table} makes '${owner}' its only writer.`,
    `Stop writing it from '${service}'; ${how}.`,
  );
}
