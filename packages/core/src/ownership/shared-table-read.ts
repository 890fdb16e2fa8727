/**
 * Reads one entry of `shared:` (a table more than one service writes): its ownership type, its
 * technique when joint, and the keys that type and technique require. Which keys are allowed
 * depends on both, so unknown keys are reported against the entry's own variant ("'owner' does not
 * apply to a joint table-split table").
 */
import type { Node } from 'yaml';
import { didYouMean } from './closest-name.js';
import { JointTechnique, type SharedTable } from './manifest.js';
import { declaredName, names, referenceName } from './manifest-names.js';
import type { ManifestProblemCode } from './manifest-problem.js';
import type { MapEntry, YamlReader } from './yaml-reader.js';

/** The keys of each variant, and what a missing required one is reported as. */
const VARIANTS: Readonly<Record<string, Readonly<Record<string, ManifestProblemCode | 'optional'>>>> = {
  common: { owner: 'COMMON_OWNER_MISSING', writers: 'optional' },
  'table-split': { parts: 'MISSING_KEY' },
  'data-domain': { schema: 'DATA_DOMAIN_SCHEMA_MISSING', services: 'MISSING_KEY' },
  delegate: { owner: 'DELEGATE_OWNER_MISSING', delegates: 'MISSING_KEY' },
  consolidation: { into: 'CONSOLIDATION_INTO_MISSING', from: 'MISSING_KEY' },
};
const TECHNIQUES: readonly string[] = Object.values(JointTechnique);
const ALL_KEYS = ['ownership', 'technique', ...new Set(Object.values(VARIANTS).flatMap(Object.keys))];

/** Reads `shared.<table>`; `undefined` when its shape is not sound (the problems are reported). */
export function readSharedTable(
  reader: YamlReader,
  table: string,
  node: Node,
  path: string,
): SharedTable | undefined {
  const entries = reader.mapping(node, path, `Shared table '${table}'`);
  if (entries === undefined) return undefined;
  const value = (key: string): MapEntry | undefined => entries.find((entry) => entry.key === key);
  const variant = readVariant(reader, table, path, value);
  const allowed =
    variant === undefined
      ? ALL_KEYS
      : [
          'ownership',
          ...(variant === 'common' ? [] : ['technique']),
          ...Object.keys(VARIANTS[variant] ?? {}),
        ];
  for (const entry of entries) {
    if (allowed.includes(entry.key)) continue;
    const known = ALL_KEYS.includes(entry.key);
    reader.report(
      'UNKNOWN_KEY',
      entry.path,
      known
        ? `Shared table '${table}': '${entry.key}' does not apply to ${describeVariant(variant)}.`
        : `Shared table '${table}' has no key '${entry.key}'.`,
      `Remove it; the keys here are ${allowed.join(', ')}.${known ? '' : didYouMean(entry.key, allowed)}`,
    );
  }
  if (variant === undefined) return undefined;
  const before = reader.problems.length;
  for (const [key, code] of Object.entries(VARIANTS[variant] ?? {})) {
    if (code === 'optional' || value(key) !== undefined) continue;
    reader.report(
      code,
      path,
      `Shared table '${table}' (${describeVariant(variant)}) has no '${key}'.`,
      remedyFor(key),
    );
  }
  const service = (key: string): string => {
    const entry = value(key);
    const name = entry === undefined ? undefined : reader.string(entry.node, entry.path, `'${key}'`);
    if (entry !== undefined && name !== undefined) referenceName(reader, name, entry.path, 'service name');
    return name ?? '';
  };
  const list = (key: string, min: number): string[] => {
    const entry = value(key);
    const result = names(reader, entry, 'service name', 'reference');
    if (
      entry !== undefined &&
      result.length < min &&
      reader.problems.every((p) => !p.path.startsWith(entry.path))
    ) {
      reader.report(
        'EMPTY_LIST',
        entry.path,
        `Shared table '${table}': ${key} needs at least ${min} service(s).`,
        remedyFor(key),
      );
    }
    return result;
  };
  const shared = buildVariant(reader, table, variant, value, service, list);
  return reader.problems.length === before ? shared : undefined;
}

function buildVariant(
  reader: YamlReader,
  table: string,
  variant: string,
  value: (key: string) => MapEntry | undefined,
  service: (key: string) => string,
  list: (key: string, min: number) => string[],
): SharedTable | undefined {
  switch (variant) {
    case 'common':
      return { table, ownership: 'common', owner: service('owner'), writers: list('writers', 0) };
    case 'delegate':
      return {
        table,
        ownership: 'joint',
        technique: 'delegate',
        owner: service('owner'),
        delegates: list('delegates', 1),
      };
    case 'consolidation':
      return {
        table,
        ownership: 'joint',
        technique: 'consolidation',
        into: service('into'),
        from: list('from', 1),
      };
    case 'data-domain': {
      const schemaEntry = value('schema');
      const written =
        schemaEntry === undefined ? undefined : reader.string(schemaEntry.node, schemaEntry.path, "'schema'");
      // An empty name is a bad name (IDENTIFIER_EMPTY), as the JSON Schema says; a missing key is
      // DATA_DOMAIN_SCHEMA_MISSING (the rules), and a wrong type was just reported.
      if (schemaEntry !== undefined && written !== undefined)
        declaredName(reader, written, schemaEntry.path, 'schema');
      const schema = written ?? '';
      return { table, ownership: 'joint', technique: 'data-domain', schema, services: list('services', 2) };
    }
    default:
      return {
        table,
        ownership: 'joint',
        technique: 'table-split',
        parts: readParts(reader, table, value('parts')),
      };
  }
}

function readParts(reader: YamlReader, table: string, entry: MapEntry | undefined): Record<string, string> {
  const parts: Record<string, string> = {};
  if (entry === undefined) return parts;
  const items = reader.mapping(entry.node, entry.path, 'parts');
  for (const part of items ?? []) {
    declaredName(reader, part.key, part.path, 'table');
    const owner = reader.string(part.node, part.path, `Part '${part.key}'`);
    if (owner !== undefined && referenceName(reader, owner, part.path, 'service name'))
      parts[part.key] = owner;
  }
  if (items !== undefined && items.length < 2) {
    reader.report(
      'EMPTY_LIST',
      entry.path,
      `Shared table '${table}' is split into ${items.length} part(s); a table split needs at least two.`,
      'Name each part and the service that owns it: parts: { product: catalog, product_inventory: inventory }.',
    );
  }
  return parts;
}

/** `'common'`, a technique, or `undefined` when ownership or technique is missing or unknown. */
function readVariant(
  reader: YamlReader,
  table: string,
  path: string,
  value: (key: string) => MapEntry | undefined,
): string | undefined {
  const ownershipEntry = value('ownership');
  if (ownershipEntry === undefined) {
    reader.report(
      'MISSING_KEY',
      path,
      `Shared table '${table}' has no 'ownership'.`,
      'Add ownership: common or ownership: joint.',
    );
    return undefined;
  }
  const ownership = reader.string(
    ownershipEntry.node,
    ownershipEntry.path,
    `Shared table '${table}': ownership`,
  );
  if (ownership === undefined) return undefined;
  if (ownership !== 'common' && ownership !== 'joint') {
    reader.report(
      'INVALID_VALUE',
      ownershipEntry.path,
      `Shared table '${table}': ownership '${ownership}' is neither common nor joint.`,
      `Write common (most services write it; one owner) or joint (a few services of one domain).${didYouMean(ownership, ['common', 'joint'])}`,
    );
    return undefined;
  }
  const techniqueEntry = value('technique');
  if (ownership === 'common') return 'common';
  if (techniqueEntry === undefined) {
    reader.report(
      'JOINT_TECHNIQUE_MISSING',
      path,
      `Shared table '${table}' is joint but names no technique.`,
      `Add technique: with one of ${TECHNIQUES.join(', ')}.`,
    );
    return undefined;
  }
  const technique = reader.string(
    techniqueEntry.node,
    techniqueEntry.path,
    `Shared table '${table}': technique`,
  );
  if (technique === undefined) return undefined;
  if (!TECHNIQUES.includes(technique)) {
    reader.report(
      'INVALID_VALUE',
      techniqueEntry.path,
      `Shared table '${table}': technique '${technique}' is not one of ${TECHNIQUES.join(', ')}.`,
      `Choose one of ${TECHNIQUES.join(', ')}.${didYouMean(technique, TECHNIQUES)}`,
    );
    return undefined;
  }
  return technique;
}

function describeVariant(variant: string | undefined): string {
  if (variant === undefined) return 'this table';
  return variant === 'common' ? 'a common table' : `a joint ${variant} table`;
}

function remedyFor(key: string): string {
  const remedies: Record<string, string> = {
    owner: 'Add owner: with the service that alone writes the table.',
    writers: 'List the services that send the owner their writes as messages.',
    delegates: 'List the services that delegate their writes to the owner.',
    services: 'List the services that may write the data domain (at least two).',
    schema: 'Add schema: with the shared schema that holds the table.',
    parts: 'Add parts: { table: service, … } naming each part and its owner.',
    into: 'Add into: with the merged service that owns the table now.',
    from: 'List the services that were merged into it.',
  };
  return remedies[key] ?? `Add ${key}.`;
}
