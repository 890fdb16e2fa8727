// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
/** Manifests whose shape is broken in one place: the parser and the JSON Schema must both reject each. */
import { type Draft, service, shared } from './manifest-fixtures.js';

/** A mutation that breaks the shape (what the JSON Schema also rejects), and the code it must give. */
export interface ShapeCase {
  readonly name: string;
  readonly code: string;
  readonly mutate: (draft: Draft) => void;
}

export const SHAPE_CASES: readonly ShapeCase[] = [
  { name: 'no version', code: 'MISSING_KEY', mutate: (d) => void delete d.version },
  {
    name: 'version 2',
    code: 'VERSION_UNSUPPORTED',
    mutate: (d) => {
      d.version = 2;
    },
  },
  {
    name: 'version as a string',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      d.version = '1';
    },
  },
  { name: 'no services', code: 'MISSING_KEY', mutate: (d) => void delete (d as Partial<Draft>).services },
  {
    name: 'services empty',
    code: 'EMPTY_LIST',
    mutate: (d) => {
      d.services = {};
    },
  },
  {
    name: 'services a list',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      (d as Record<string, unknown>).services = ['a'];
    },
  },
  {
    name: 'unknown top-level key',
    code: 'UNKNOWN_KEY',
    mutate: (d) => {
      d.servics = {};
    },
  },
  {
    name: 'unknown service key',
    code: 'UNKNOWN_KEY',
    mutate: (d) => {
      service(d, 'audit').ownz = [];
    },
  },
  {
    name: 'service without database',
    code: 'MISSING_KEY',
    mutate: (d) => void delete service(d, 'audit').database,
  },
  {
    name: 'database a number',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      service(d, 'audit').database = 5432;
    },
  },
  {
    name: 'database empty',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      service(d, 'audit').database = ' ';
    },
  },
  {
    name: 'malformed ${',
    code: 'DATABASE_REFERENCE_INVALID',
    mutate: (d) => {
      service(d, 'audit').database = '${AUDIT';
    },
  },
  {
    name: 'lowercase-digit ${1X}',
    code: 'DATABASE_REFERENCE_INVALID',
    mutate: (d) => {
      service(d, 'audit').database = 'postgres://a:${1X}@h/d';
    },
  },
  {
    name: 'owns a string',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      service(d, 'audit').owns = 'audit_log' as unknown as unknown[];
    },
  },
  { name: 'owns a number', code: 'WRONG_TYPE', mutate: (d) => void service(d, 'audit').owns?.push(7) },
  {
    name: 'owns twice',
    code: 'DUPLICATE_ENTRY',
    mutate: (d) => void service(d, 'audit').owns?.push('audit_log'),
  },
  {
    name: 'uppercase service',
    code: 'IDENTIFIER_INVALID',
    mutate: (d) => {
      d.services.Billing = { database: '${B}' };
    },
  },
  {
    name: 'reserved table',
    code: 'IDENTIFIER_RESERVED',
    mutate: (d) => void service(d, 'audit').owns?.push('user'),
  },
  {
    name: 'long table',
    code: 'IDENTIFIER_TOO_LONG',
    mutate: (d) => void service(d, 'audit').owns?.push('t'.repeat(64)),
  },
  {
    name: 'NUL in table',
    code: 'IDENTIFIER_NUL',
    mutate: (d) => void service(d, 'audit').owns?.push('a\0b'),
  },
  { name: 'empty table', code: 'IDENTIFIER_EMPTY', mutate: (d) => void service(d, 'audit').owns?.push('') },
  {
    name: 'injection in table',
    code: 'IDENTIFIER_INVALID',
    mutate: (d) => void service(d, 'audit').owns?.push('x"; drop table y; --'),
  },
  {
    name: 'reserved schema',
    code: 'IDENTIFIER_RESERVED',
    mutate: (d) => {
      service(d, 'audit').schema = 'select';
    },
  },
  {
    name: 'reads not service.table',
    code: 'TABLE_REF_INVALID',
    mutate: (d) => void service(d, 'wishlist').reads?.push('catalog'),
  },
  {
    name: 'reads with three parts',
    code: 'TABLE_REF_INVALID',
    mutate: (d) => void service(d, 'wishlist').reads?.push('a.b.c'),
  },
  {
    name: 'writes a bad name',
    code: 'IDENTIFIER_INVALID',
    mutate: (d) => void service(d, 'inventory').writes?.push('Price'),
  },
  {
    name: 'shared not a mapping',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      (d as Record<string, unknown>).shared = 'audit_log';
    },
  },
  {
    name: 'shared without ownership',
    code: 'MISSING_KEY',
    mutate: (d) => void delete shared(d, 'audit_log').ownership,
  },
  {
    name: 'ownership misspelt',
    code: 'INVALID_VALUE',
    mutate: (d) => {
      shared(d, 'audit_log').ownership = 'comon';
    },
  },
  {
    name: 'common without owner',
    code: 'COMMON_OWNER_MISSING',
    mutate: (d) => void delete shared(d, 'audit_log').owner,
  },
  {
    name: 'common with a technique',
    code: 'UNKNOWN_KEY',
    mutate: (d) => {
      shared(d, 'audit_log').technique = 'delegate';
    },
  },
  {
    name: 'joint without technique',
    code: 'JOINT_TECHNIQUE_MISSING',
    mutate: (d) => void delete shared(d, 'survey').technique,
  },
  {
    name: 'unknown technique',
    code: 'INVALID_VALUE',
    mutate: (d) => {
      shared(d, 'survey').technique = 'delegation';
    },
  },
  {
    name: 'delegate without owner',
    code: 'DELEGATE_OWNER_MISSING',
    mutate: (d) => void delete shared(d, 'survey').owner,
  },
  {
    name: 'delegate without delegates',
    code: 'MISSING_KEY',
    mutate: (d) => void delete shared(d, 'survey').delegates,
  },
  {
    name: 'delegate with no delegates',
    code: 'EMPTY_LIST',
    mutate: (d) => {
      shared(d, 'survey').delegates = [];
    },
  },
  {
    name: 'delegate with parts',
    code: 'UNKNOWN_KEY',
    mutate: (d) => {
      shared(d, 'survey').parts = { a: 'survey' };
    },
  },
  {
    name: 'data-domain without schema',
    code: 'DATA_DOMAIN_SCHEMA_MISSING',
    mutate: (d) => void delete shared(d, 'product_price').schema,
  },
  {
    name: 'data-domain with one service',
    code: 'EMPTY_LIST',
    mutate: (d) => {
      shared(d, 'product_price').services = ['catalog'];
    },
  },
  {
    name: 'table-split without parts',
    code: 'MISSING_KEY',
    mutate: (d) => void delete shared(d, 'product').parts,
  },
  {
    name: 'table-split with one part',
    code: 'EMPTY_LIST',
    mutate: (d) => {
      shared(d, 'product').parts = { product: 'catalog' };
    },
  },
  {
    name: 'part owner a list',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      shared(d, 'product').parts = { product: ['catalog'], product_inventory: 'inventory' };
    },
  },
  {
    name: 'consolidation without into',
    code: 'CONSOLIDATION_INTO_MISSING',
    mutate: (d) => void delete shared(d, 'ticket').into,
  },
  {
    name: 'consolidation without from',
    code: 'MISSING_KEY',
    mutate: (d) => void delete shared(d, 'ticket').from,
  },
  { name: 'copy without key', code: 'COPY_KEY_MISSING', mutate: (d) => void delete d.copies[0]?.key },
  {
    name: 'copy with an empty key',
    code: 'COPY_KEY_MISSING',
    mutate: (d) => {
      (d.copies[0] ?? {}).key = [];
    },
  },
  { name: 'copy without of', code: 'MISSING_KEY', mutate: (d) => void delete d.copies[0]?.of },
  {
    name: 'copy with an unknown key',
    code: 'UNKNOWN_KEY',
    mutate: (d) => {
      (d.copies[0] ?? {}).column = {};
    },
  },
  {
    name: 'copy column reserved',
    code: 'IDENTIFIER_RESERVED',
    mutate: (d) => {
      (d.copies[0] ?? {}).columns = { status: 'user' };
    },
  },
  {
    name: 'copies a mapping',
    code: 'WRONG_TYPE',
    mutate: (d) => {
      (d as Record<string, unknown>).copies = {};
    },
  },
];
