/**
 * The first pass over `converge.yaml`: its shape. Reads the document into a `Manifest`, reporting
 * what the JSON Schema also rejects (wrong types, unknown and missing keys, bad names); the rules
 * that need the whole manifest (`manifest-check.ts`) run only once the shape is sound.
 *
 * Two kinds of names: a *declared* name (a service, a table in `owns`, a schema, a column) must be
 * a valid, unreserved identifier (`validateIdentifier`); a *reference* to a name declared
 * elsewhere must have the form of one, and the checker then finds what it refers to.
 */
import { isMap, isSeq, type Node } from 'yaml';
import { databaseReferenceProblem } from './database-reference.js';
import { showName, validateIdentifier } from './identifiers.js';
import {
  type CopyDeclaration,
  MANIFEST_VERSION,
  type Manifest,
  type ServiceDeclaration,
  type SharedTable,
  type TableRef,
} from './manifest.js';
import { declaredName, names } from './manifest-names.js';
import { readSharedTable } from './shared-table-read.js';
import type { YamlReader } from './yaml-reader.js';

const TOP_KEYS = ['version', 'services', 'shared', 'copies'];
const SERVICE_KEYS = ['database', 'schema', 'owns', 'writes', 'reads'];
const COPY_KEYS = ['of', 'in', 'key', 'columns'];

/** Reads the document's shape into a manifest; `undefined` when it is not even a mapping. */
export function readManifest(reader: YamlReader): Manifest | undefined {
  if (reader.root === undefined) {
    reader.report(
      'MANIFEST_NOT_MAPPING',
      '',
      'The manifest is empty.',
      'Start it with version: 1 and services:.',
    );
    return undefined;
  }
  if (!isMap(reader.root)) {
    reader.report(
      'MANIFEST_NOT_MAPPING',
      '',
      `The manifest must be a mapping (key: value), not ${isSeq(reader.root) ? 'a list' : 'a single value'}.`,
      'Write the manifest as a mapping with version: and services:.',
    );
    return undefined;
  }
  const top = reader.mapping(reader.root, '', 'The manifest', TOP_KEYS) ?? [];
  const entry = (key: string) => top.find((candidate) => candidate.key === key);
  const version = entry('version');
  if (version === undefined) missing(reader, '', 'version', 'Add version: 1.');
  else {
    const value = reader.number(version.node, version.path, 'version');
    if (value !== undefined && value !== MANIFEST_VERSION) {
      reader.report(
        'VERSION_UNSUPPORTED',
        version.path,
        `Manifest version ${value} is not supported; this Converge reads version ${MANIFEST_VERSION}.`,
        `Write version: ${MANIFEST_VERSION}, or upgrade Converge.`,
      );
    }
  }
  const servicesEntry = entry('services');
  const services: ServiceDeclaration[] = [];
  if (servicesEntry === undefined)
    missing(reader, '', 'services', 'Declare at least one service under services:.');
  else {
    const entries = reader.mapping(servicesEntry.node, servicesEntry.path, 'services');
    if (entries?.length === 0) {
      reader.report(
        'EMPTY_LIST',
        servicesEntry.path,
        'No service is declared.',
        'Declare at least one service.',
      );
    }
    for (const service of entries ?? []) {
      const declared = readService(reader, service.key, service.node, service.path);
      if (declared !== undefined) services.push(declared);
    }
  }
  const sharedEntry = entry('shared');
  const shared: SharedTable[] = [];
  for (const table of sharedEntry === undefined
    ? []
    : (reader.mapping(sharedEntry.node, 'shared', 'shared') ?? [])) {
    declaredName(reader, table.key, table.path, 'shared table');
    const declared = readSharedTable(reader, table.key, table.node, table.path);
    if (declared !== undefined) shared.push(declared);
  }
  const copiesEntry = entry('copies');
  const copies: CopyDeclaration[] = [];
  for (const copy of copiesEntry === undefined
    ? []
    : (reader.list(copiesEntry.node, 'copies', 'copies') ?? [])) {
    const declared = readCopy(reader, copy.node, copy.path);
    if (declared !== undefined) copies.push(declared);
  }
  return { version: MANIFEST_VERSION, services, shared, copies };
}

function readService(
  reader: YamlReader,
  name: string,
  node: Node,
  path: string,
): ServiceDeclaration | undefined {
  declaredName(reader, name, path, 'service name');
  const entries = reader.mapping(node, path, `Service '${name}'`, SERVICE_KEYS);
  if (entries === undefined) return undefined;
  const value = (key: string) => entries.find((entry) => entry.key === key);
  const databaseEntry = value('database');
  let database = '';
  if (databaseEntry === undefined) {
    missing(reader, path, 'database', `Add database: \${${name.toUpperCase()}_DATABASE_URL}.`);
  } else {
    const text = reader.string(databaseEntry.node, databaseEntry.path, `Service '${name}': database`);
    const malformed = text === undefined ? undefined : databaseReferenceProblem(text);
    if (text?.trim() === '') {
      reader.report(
        'WRONG_TYPE',
        databaseEntry.path,
        `Service '${name}': database is empty.`,
        `Give its URL, for example \${${name.toUpperCase()}_DATABASE_URL}.`,
      );
    } else if (malformed !== undefined) {
      reader.report(
        'DATABASE_REFERENCE_INVALID',
        databaseEntry.path,
        `Service '${name}': database ${malformed}`,
        'Fix the reference.',
      );
    }
    database = text ?? '';
  }
  const schemaEntry = value('schema');
  const schema =
    schemaEntry === undefined
      ? name
      : reader.string(schemaEntry.node, schemaEntry.path, `Service '${name}': schema`);
  if (schemaEntry !== undefined && schema !== undefined)
    declaredName(reader, schema, schemaEntry.path, 'schema');
  const owns = names(reader, value('owns'), 'table', 'declared');
  const writes = names(reader, value('writes'), 'table', 'reference');
  const readsEntry = value('reads');
  const reads = readsEntry === undefined ? [] : tableRefs(reader, readsEntry.node, readsEntry.path);
  return { name, database, schema: schema ?? name, owns, reads, writes };
}

function readCopy(reader: YamlReader, node: Node, path: string): CopyDeclaration | undefined {
  const entries = reader.mapping(node, path, 'A copy', COPY_KEYS);
  if (entries === undefined) return undefined;
  const value = (key: string) => entries.find((entry) => entry.key === key);
  const ref = (key: 'of' | 'in', what: string): TableRef | undefined => {
    const entry = value(key);
    if (entry === undefined) {
      missing(reader, path, key, `Add ${key}: service.table (${what}).`);
      return undefined;
    }
    const text = reader.string(entry.node, entry.path, `A copy's '${key}'`);
    return text === undefined ? undefined : tableRef(reader, text, entry.path);
  };
  const of = ref('of', "the owner's table");
  const into = ref('in', 'the copy, in another service');
  const keyEntry = value('key');
  let key: string[] = [];
  if (keyEntry === undefined) {
    reader.report(
      'COPY_KEY_MISSING',
      path,
      'A copy has no key.',
      "Add key: with the owner table's key column(s), e.g. key: id.",
    );
  } else {
    if (isSeq(keyEntry.node)) {
      key = names(reader, keyEntry, 'key column', 'declared');
      if (keyEntry.node.items.length === 0) {
        reader.report(
          'COPY_KEY_MISSING',
          keyEntry.path,
          'A copy has an empty key.',
          'List the key column(s).',
        );
      }
    } else {
      const single = reader.string(keyEntry.node, keyEntry.path, 'key');
      if (single !== undefined) declaredName(reader, single, keyEntry.path, 'key column');
      key = single === undefined ? [] : [single];
    }
  }
  const columnsEntry = value('columns');
  const columns: Record<string, string> = {};
  for (const column of columnsEntry === undefined
    ? []
    : (reader.mapping(columnsEntry.node, columnsEntry.path, 'columns') ?? [])) {
    declaredName(reader, column.key, column.path, 'column');
    const target = reader.string(column.node, column.path, `Column '${column.key}'`);
    if (target !== undefined) {
      declaredName(reader, target, column.path, 'column');
      columns[column.key] = target;
    }
  }
  if (of === undefined || into === undefined) return undefined;
  return { of, in: into, key, columns };
}

function tableRefs(reader: YamlReader, node: Node, path: string): TableRef[] {
  const refs: TableRef[] = [];
  const seen = new Set<string>();
  for (const item of reader.list(node, path, path.split('.').pop() ?? 'reads') ?? []) {
    const text = reader.string(item.node, item.path, 'Each entry');
    const ref = text === undefined ? undefined : tableRef(reader, text, item.path);
    if (ref === undefined || text === undefined) continue;
    if (seen.has(text))
      reader.report('DUPLICATE_ENTRY', item.path, `${path} lists '${text}' twice.`, 'Remove the second one.');
    else refs.push(ref);
    seen.add(text);
  }
  return refs;
}

function tableRef(reader: YamlReader, text: string, path: string): TableRef | undefined {
  const parts = text.split('.');
  const [service, table] = parts;
  const valid = (part: string | undefined) =>
    part !== undefined &&
    (validateIdentifier(part) === undefined || validateIdentifier(part)?.code === 'IDENTIFIER_RESERVED');
  if (parts.length !== 2 || !valid(service) || !valid(table)) {
    reader.report(
      'TABLE_REF_INVALID',
      path,
      `${showName(text)} is not a table reference of the form service.table.`,
      'Write service.table with two names of a-z, 0-9 and _ (at most 63 bytes each), e.g. customer_profile.customer.',
    );
    return undefined;
  }
  return { service: service ?? '', table: table ?? '' };
}

function missing(reader: YamlReader, path: string, key: string, remedy: string): void {
  reader.report('MISSING_KEY', path, `${path === '' ? 'The manifest' : path} has no '${key}'.`, remedy);
}
